// An ACP agent written with the official TypeScript SDK, for ContainmentLab's interop tests: the real bridge drives it
// over stdio and must stop it.
//
//   node sdk-agent.mjs --report FILE
//
// On a prompt it reports a tool call, writes `hello.txt` into the session's cwd with fs/write_text_file, asks for
// permission, reads the file back, presses a button with `_containmentlab/tool` and runs `echo` in a terminal (each
// answer checked), then keeps writing `loop-N.txt` (one request at a time, each framed by tool_call /
// tool_call_update) until session/cancel arrives. After the cancel it asks for three more tools (fs/write_text_file, fs/read_text_file and ContainmentLab's
// `_containmentlab/tool`), which the client must refuse with JSON-RPC errors, and answers the prompt `cancelled`.
// Without a cancel it gives up after MAX_LOOP writes and answers `end_turn` (the test then fails on the stop reason).
//
// What it observed goes to the report as JSON Lines, appended as it happens (a kill loses nothing written before):
//   {"event":"tool","phase":"first"|"setup"|"loop"|"post-cancel","method","path","ok","result","code","message","afterCancel"}
//   {"event":"permission","outcome":{…}}           {"event":"terminal","ok","terminalId","exit","output"}
//   {"event":"cancel","sessionId","known","toolCalls"}     {"event":"violation",…}   {"event":"sdk-error","text"}
//   {"event":"turn-end","stopReason"}                 {"event":"summary","final":true,"wire":{…}} when stdin closes
// Every wire line in both directions is checked against the ACP v1 schema (wire-check.mjs).

import { appendFileSync } from "node:fs";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";
import { WireChecker, checkStreams, formatViolation } from "./wire-check.mjs";

const MAX_LOOP = 5000;
const FIRST_CONTENT = "written by the ACP SDK agent\n";

const reportIndex = process.argv.indexOf("--report");
if (reportIndex < 0 || !process.argv[reportIndex + 1]) {
  process.stderr.write("usage: node sdk-agent.mjs --report FILE\n");
  process.exit(2);
}
const reportPath = process.argv[reportIndex + 1];
const record = (event) => appendFileSync(reportPath, JSON.stringify(event) + "\n");

// The SDK reports what it could not take (an invalid message, a notification handler that failed, a response to an
// unknown request) on console.error; each one is a finding.
const consoleError = console.error.bind(console);
console.error = (...args) => {
  record({ event: "sdk-error", text: args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ") });
  consoleError(...args);
};

const checker = new WireChecker({
  onViolation: (v) => {
    record({ event: "violation", ...v });
    process.stderr.write(formatViolation(v) + "\n");
  },
});

/** sessionId → { id, cwd, cancelled, toolCalls } */
const sessions = new Map();
let sessionCount = 0;

const yieldBriefly = () => new Promise((resolve) => setTimeout(resolve, 2));

async function callTool(client, session, phase, title, method, params) {
  const toolCallId = `${phase}-${++session.toolCalls}`;
  const afterCancel = session.cancelled;
  await client.notify(acp.methods.client.session.update, {
    sessionId: session.id,
    update: { sessionUpdate: "tool_call", toolCallId, title, kind: method.startsWith("fs/read") ? "read" : "edit", status: "in_progress", rawInput: params },
  });
  let outcome;
  try {
    const result = await client.request(method, params);
    outcome = { ok: true, result };
  } catch (error) {
    outcome = { ok: false, code: error?.code, message: error?.message };
  }
  record({ event: "tool", phase, method, path: params.path ?? params.arguments?.target, afterCancel, ...outcome });
  // ACP v1 has no cancelled tool status: a refused tool is reported failed.
  await client.notify(acp.methods.client.session.update, {
    sessionId: session.id,
    update: { sessionUpdate: "tool_call_update", toolCallId, status: outcome.ok ? "completed" : "failed" },
  });
  return outcome;
}

/** terminal/create, wait_for_exit, output, release through the SDK's TerminalHandle: each answer meets the schema. */
async function runTerminal(client, session) {
  const observed = { event: "terminal" };
  try {
    const terminal = await client.createTerminal({ sessionId: session.id, command: "echo", args: ["terminal says hi"], cwd: session.cwd });
    observed.terminalId = terminal.id;
    observed.exit = await terminal.waitForExit();
    observed.output = await terminal.currentOutput();
    await terminal.release();
    observed.ok = true;
  } catch (error) {
    Object.assign(observed, { ok: false, code: error?.code, message: error?.message });
  }
  record(observed);
}

async function runTurn(client, session) {
  await client.notify(acp.methods.client.session.update, {
    sessionId: session.id,
    update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "Writing files until stopped." } },
  });

  const first = path.join(session.cwd, "hello.txt");
  await callTool(client, session, "first", "Write hello.txt", acp.methods.client.fs.writeTextFile, { sessionId: session.id, path: first, content: FIRST_CONTENT });

  // One of each other kind of request the bridge answers, so its successful answers meet the schema too.
  const permission = await client.request(acp.methods.client.session.requestPermission, {
    sessionId: session.id,
    toolCall: { toolCallId: "permission-1", title: "Write loop files", kind: "edit", status: "pending" },
    options: [
      { optionId: "allow", name: "Allow", kind: "allow_once" },
      { optionId: "reject", name: "Reject", kind: "reject_once" },
    ],
  });
  record({ event: "permission", outcome: permission.outcome });
  await callTool(client, session, "setup", "Read hello.txt", acp.methods.client.fs.readTextFile, { sessionId: session.id, path: first });
  await callTool(client, session, "setup", "Press OK", "_containmentlab/tool", {
    sessionId: session.id, toolCallId: "setup-host-1", name: "desktop.press", arguments: { target: "OK" },
  });

  await runTerminal(client, session);

  let loop = 0;
  while (!session.cancelled && loop < MAX_LOOP) {
    loop++;
    const file = path.join(session.cwd, `loop-${loop}.txt`);
    await callTool(client, session, "loop", `Write loop-${loop}.txt`, acp.methods.client.fs.writeTextFile, { sessionId: session.id, path: file, content: `loop ${loop}\n` });
    await yieldBriefly();
  }
  if (!session.cancelled) {
    return { stopReason: "end_turn" };
  }

  // Stop was pressed: a well-behaved agent would stop here. This one tries more tools; the client must refuse each.
  await callTool(client, session, "post-cancel", "Write after cancel", acp.methods.client.fs.writeTextFile, {
    sessionId: session.id, path: path.join(session.cwd, "after-cancel.txt"), content: "must not be written\n",
  });
  await callTool(client, session, "post-cancel", "Read after cancel", acp.methods.client.fs.readTextFile, { sessionId: session.id, path: first });
  await callTool(client, session, "post-cancel", "Press OK after cancel", "_containmentlab/tool", {
    sessionId: session.id, toolCallId: `post-cancel-host-${session.toolCalls + 1}`, name: "desktop.press", arguments: { target: "OK" },
  });
  return { stopReason: "cancelled" };
}

const app = acp
  .agent({ name: "containmentlab-interop-sdk-agent" })
  .onRequest(acp.methods.agent.initialize, () => ({
    protocolVersion: acp.PROTOCOL_VERSION,
    agentCapabilities: {},
    agentInfo: { name: "containmentlab-interop-sdk-agent", version: "1.0.0" },
    authMethods: [],
  }))
  .onRequest(acp.methods.agent.session.new, ({ params }) => {
    const id = `sdk-sess-${++sessionCount}`;
    sessions.set(id, { id, cwd: params.cwd, cancelled: false, toolCalls: 0 });
    return { sessionId: id };
  })
  .onRequest(acp.methods.agent.session.prompt, async ({ params, client }) => {
    const session = sessions.get(params.sessionId);
    if (!session) {
      throw acp.RequestError.invalidParams(undefined, `unknown session ${params.sessionId}`);
    }
    const response = await runTurn(client, session);
    record({ event: "turn-end", stopReason: response.stopReason });
    return response;
  })
  .onNotification(acp.methods.agent.session.cancel, ({ params }) => {
    const session = sessions.get(params.sessionId);
    record({ event: "cancel", sessionId: params.sessionId, known: Boolean(session), toolCalls: session?.toolCalls ?? 0 });
    if (session) {
      session.cancelled = true;
    }
  });

const wire = checkStreams(checker, "agent", Writable.toWeb(process.stdout), Readable.toWeb(process.stdin));
const connection = app.connect(acp.ndJsonStream(wire.output, wire.input));

// The client closing stdin is the end: write the summary and leave.
await connection.closed;
record({ event: "summary", final: true, wire: checker.summary() });
process.exit(0);
