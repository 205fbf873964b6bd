// An ACP client written with the official TypeScript SDK, for ContainmentLab's interop tests: it drives an agent (the
// fake agent, storming tool calls) and presses Stop.
//
//   node sdk-client.mjs --cwd DIR --cancel-after N [--refusal-delay-ms MS] -- COMMAND [ARGS…]
//
// It spawns COMMAND as the agent, initializes, opens a session in DIR and prompts. It answers the agent's requests
// (fs/write_text_file and fs/read_text_file in memory, session/request_permission with the first allow option,
// ContainmentLab's `_containmentlab/tool` with a canned output); after N tool requests it sends session/cancel and
// refuses every later tool request with -32800, as a client that pressed Stop should. When the prompt is answered and
// every request the agent sent has its answer on the wire (an agent may answer `cancelled` before its last requests
// are answered), it closes the agent's stdin and waits for it to exit.
//
// It prints one JSON summary on stdout and exits 0 when everything held: the prompt ended `cancelled`, every line
// both ways matched the ACP v1 schema (wire-check.mjs), the SDK took every message the agent sent (it complained on
// console.error about none and answered none of the agent's requests with an error of its own), and the agent exited
// 0 by itself once its stdin closed. Otherwise it exits 1, with the summary still printed.

import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";
import { AGENT_TO_CLIENT, CLIENT_TO_AGENT, WireChecker, checkStreams, formatViolation } from "./wire-check.mjs";

const AGENT_EXIT_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 10_000;
const TOOL_METHODS = new Set(["fs/write_text_file", "fs/read_text_file", "_containmentlab/tool", "session/request_permission"]);

function parseArguments(argv) {
  const separator = argv.indexOf("--");
  const options = argv.slice(0, separator < 0 ? argv.length : separator);
  const command = separator < 0 ? [] : argv.slice(separator + 1);
  const value = (name) => {
    const i = options.indexOf(name);
    return i >= 0 ? options[i + 1] : undefined;
  };
  const cwd = value("--cwd");
  const cancelAfter = Number(value("--cancel-after"));
  const refusalDelayMs = Number(value("--refusal-delay-ms") ?? "0");
  if (!cwd || !Number.isInteger(cancelAfter) || cancelAfter < 1 || !Number.isInteger(refusalDelayMs) || refusalDelayMs < 0 || command.length === 0) {
    process.stderr.write("usage: node sdk-client.mjs --cwd DIR --cancel-after N [--refusal-delay-ms MS] -- COMMAND [ARGS…]\n");
    process.exit(2);
  }
  return { cwd, cancelAfter, refusalDelayMs, command };
}

const { cwd, cancelAfter, refusalDelayMs, command } = parseArguments(process.argv.slice(2));

const sdkErrors = [];
const consoleError = console.error.bind(console);
console.error = (...args) => {
  sdkErrors.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
  consoleError(...args);
};

// Error responses this client meant to send (refusals after Stop), by request id: any other error response the client
// wrote is the SDK rejecting a request of the agent (unknown method, invalid params).
const refusedIds = new Set();
const sdkRejections = [];
// The prompt's id on the wire, and the agent requests that came after the agent answered it (an honouring agent sends none).
let promptId;
let promptAnsweredOnWire = false;
const requestsAfterPromptAnswer = [];
const drainWaiters = [];
const checker = new WireChecker({
  onViolation: (v) => process.stderr.write(formatViolation(v) + "\n"),
  onMessage: (direction, message) => {
    if (direction === CLIENT_TO_AGENT && "error" in message && !("method" in message) && !refusedIds.has(JSON.stringify(message.id))) {
      sdkRejections.push({ id: message.id, error: message.error });
    }
    if (direction === CLIENT_TO_AGENT && message.method === acp.methods.agent.session.prompt) {
      promptId = JSON.stringify(message.id);
    }
    if (direction === AGENT_TO_CLIENT && !("method" in message) && JSON.stringify(message.id) === promptId) {
      promptAnsweredOnWire = true;
    }
    if (direction === AGENT_TO_CLIENT && "method" in message && "id" in message && promptAnsweredOnWire) {
      requestsAfterPromptAnswer.push({ id: message.id, method: message.method });
    }
    if (direction === CLIENT_TO_AGENT && drainWaiters.length > 0) {
      // The checker books this answer after the callback: look once it has.
      queueMicrotask(checkDrained);
    }
  },
});

/** Agent requests this client has read and not yet answered on the wire. */
const unansweredAgentRequests = () => checker.pending[AGENT_TO_CLIENT].size;

function checkDrained() {
  if (unansweredAgentRequests() === 0) {
    drainWaiters.splice(0).forEach((resolve) => resolve(true));
  }
}

/**
 * Resolves once every agent request read so far has its answer written (true), or after a bound (false: the summary
 * then lists what was left). The agent may answer the prompt `cancelled` without waiting for its outstanding requests
 * (ACP allows it), so the last refusals can still be on their way when the prompt's answer arrives: closing the
 * connection then would drop them, and the agent would be left with requests nobody answered.
 */
function agentRequestsAnswered(boundMs) {
  if (unansweredAgentRequests() === 0) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    drainWaiters.push(resolve);
    setTimeout(() => resolve(false), boundMs).unref();
  });
}

const agentProcess = spawn(command[0], command.slice(1), { cwd, stdio: ["pipe", "pipe", "inherit"] });
const agentExited = new Promise((resolve) => agentProcess.on("exit", (code, signal) => resolve({ code, signal })));
const spawned = new Promise((resolve, reject) => {
  agentProcess.once("spawn", resolve);
  agentProcess.once("error", reject);
});
await spawned;

const files = new Map();
const counts = { toolRequests: 0, beforeCancel: 0, afterCancel: 0, refused: 0, byMethod: {}, updates: {} };
let sessionId;
let cancelSent = false;
let cancelContext;

/** Counts one tool request; sends the cancel once N came in; refuses the request if Stop was already pressed. */
async function onTool(method, params, agent, requestId, answer) {
  counts.toolRequests++;
  counts.byMethod[method] = (counts.byMethod[method] ?? 0) + 1;
  if (cancelSent) {
    counts.afterCancel++;
    counts.refused++;
    refusedIds.add(JSON.stringify(requestId));
    if (refusalDelayMs > 0) {
      // A slow client (a loaded machine): the agent's `cancelled` answer can overtake these refusals.
      await new Promise((resolve) => setTimeout(resolve, refusalDelayMs));
    }
    throw new acp.RequestError(-32800, "request cancelled: the user pressed Stop");
  }
  counts.beforeCancel++;
  if (counts.toolRequests >= cancelAfter) {
    cancelSent = true;
    cancelContext = { afterToolRequests: counts.toolRequests };
    await agent.notify(acp.methods.agent.session.cancel, { sessionId: params.sessionId });
  }
  return answer();
}

const app = acp
  .client({ name: "containmentlab-interop-sdk-client" })
  .onNotification(acp.methods.client.session.update, ({ params }) => {
    const kind = params.update.sessionUpdate;
    counts.updates[kind] = (counts.updates[kind] ?? 0) + 1;
  })
  .onRequest(acp.methods.client.fs.writeTextFile, ({ params, agent, requestId }) =>
    onTool("fs/write_text_file", params, agent, requestId, () => {
      files.set(params.path, params.content);
      return {};
    }))
  .onRequest(acp.methods.client.fs.readTextFile, ({ params, agent, requestId }) =>
    onTool("fs/read_text_file", params, agent, requestId, () => ({ content: files.get(params.path) ?? "" })))
  .onRequest(acp.methods.client.session.requestPermission, ({ params, agent, requestId }) => {
    if (cancelSent) {
      // ACP: after session/cancel a pending or new permission request is answered `cancelled`, not with an error.
      return { outcome: { outcome: "cancelled" } };
    }
    return onTool("session/request_permission", params, agent, requestId, () => {
      const allow = params.options.find((o) => o.kind === "allow_once") ?? params.options[0];
      return { outcome: { outcome: "selected", optionId: allow.optionId } };
    });
  })
  .onRequest(
    "_containmentlab/tool",
    (params) => {
      if (typeof params?.sessionId !== "string" || typeof params?.toolCallId !== "string" || typeof params?.name !== "string") {
        throw acp.RequestError.invalidParams(params, "_containmentlab/tool needs sessionId, toolCallId and name");
      }
      return params;
    },
    ({ params, agent, requestId }) => onTool("_containmentlab/tool", params, agent, requestId, () => ({ output: { tool: params.name, ok: true } })),
  );

const wire = checkStreams(checker, "client", Writable.toWeb(agentProcess.stdin), Readable.toWeb(agentProcess.stdout));
let initialize;
let promptResponse;
let failure;
let drained;
try {
  promptResponse = await app.connectWith(acp.ndJsonStream(wire.output, wire.input), async (ctx) => {
    initialize = await ctx.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: { fs: { readTextFile: true, writeTextFile: true }, terminal: false },
      clientInfo: { name: "containmentlab-interop-sdk-client", version: "1.0.0" },
    });
    ({ sessionId } = await ctx.request(acp.methods.agent.session.new, { cwd, mcpServers: [] }));
    const response = await ctx.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "storm until stopped" }] });

    // connectWith closes the connection when this returns: not before the agent's requests are all answered.
    drained = await agentRequestsAnswered(DRAIN_TIMEOUT_MS);
    return response;
  });
} catch (error) {
  failure = String(error?.stack ?? error);
}

// Closing stdin is how an ACP client shuts an agent down; it must exit by itself.
agentProcess.stdin.end();
let agentExit = await Promise.race([agentExited, new Promise((resolve) => setTimeout(() => resolve(null), AGENT_EXIT_TIMEOUT_MS).unref())]);
const exitedByItself = agentExit !== null;
if (!exitedByItself) {
  agentProcess.kill("SIGKILL");
  agentExit = await agentExited;
}

const wireSummary = checker.summary();
const summary = {
  agentPid: agentProcess.pid,
  agentInfo: initialize?.agentInfo ?? null,
  protocolVersion: initialize?.protocolVersion ?? null,
  sessionId: sessionId ?? null,
  stopReason: promptResponse?.stopReason ?? null,
  failure: failure ?? null,
  cancelAfter,
  cancelSent,
  cancel: cancelContext ?? null,
  counts,
  drained: drained ?? null,
  requestsAfterPromptAnswer,
  sdkErrors,
  sdkRejections,
  violations: wireSummary.violations,
  wire: wireSummary,
  agentExit: { ...agentExit, byItself: exitedByItself },
};
const ok =
  summary.stopReason === "cancelled" &&
  !failure &&
  summary.violations === 0 &&
  sdkErrors.length === 0 &&
  sdkRejections.length === 0 &&
  drained === true &&
  wireSummary.unanswered[AGENT_TO_CLIENT].length === 0 &&
  requestsAfterPromptAnswer.length === 0 &&
  wireSummary.lines[AGENT_TO_CLIENT] > 0 &&
  exitedByItself &&
  agentExit.code === 0;
process.stdout.write(JSON.stringify(summary) + "\n");
process.exitCode = ok ? 0 : 1;
