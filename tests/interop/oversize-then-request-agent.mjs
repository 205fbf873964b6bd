// An ACP agent, written from outside ContainmentLab with raw stdout writes, that sends one oversize line and right
// after it a request, and waits for that request's answer (G9: every complete line the agent wrote is read, every
// request it sent is answered).
//
//   node oversize-then-request-agent.mjs [--mib N] [--report FILE]
//
// On a prompt it runs four rounds. Each writes an N MiB line (default 64) — itself a request, `fs/write_text_file` with
// a huge `content`, its id and method before the huge params (`id-first`) or after them (`id-last`,
// `method-and-id-last`: JSON does not order members, and some serializers write them so) — and then a request that fits,
// cut from the huge line in a different place each round, so that the bridge's reads meet the end of the huge line in
// every way:
//   same-write   the huge line, its newline and the request in one write(2)
//   split-lf     the huge line without its newline; then the newline and the request in one write
//   own-write    the huge line with its newline; then the request alone
//   split-next   the huge line, its newline and the first half of the request; then the rest
// Rounds 1–4 use the orders id-last, method-and-id-last, id-first, id-last.
// The request after the huge line is `fs/write_text_file` of `round-K.txt` in rounds 1–3 and a
// `session/request_permission` in round 4. The agent waits for both answers of each round (the huge request must be
// refused with an error under its own id, the request after it answered with a result) before the next round, then
// answers the prompt `end_turn`. If an answer is wrong it answers `refusal` instead (so a fixture that expects
// `end_turn` fails saying so); if an answer never comes, the turn never ends and the host must escalate.
//
// Its own account (`--report FILE`, JSON Lines, appended as it happens): {"event":"sent","id","method","round","bytes"},
// {"event":"answer","id","ok","code","message"}, {"event":"turn-end","stopReason","unanswered":[ids]}; also on stderr.
// Plain Node, no packages: it must not depend on how an SDK frames its writes.

import { appendFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const argument = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const mib = Number(argument("--mib", "64"));
const reportPath = argument("--report", null);
const record = (event) => {
  const line = JSON.stringify(event);
  process.stderr.write(`oversize-agent: ${line}\n`);
  if (reportPath) {
    appendFileSync(reportPath, line + "\n");
  }
};

/** Resolves once the bytes are handed to the OS (stdout is a pipe: a write may be queued in Node until it drains). */
const write = (bytes) => new Promise((resolve, reject) => process.stdout.write(bytes, (error) => (error ? reject(error) : resolve())));
const line = (message) => JSON.stringify(message) + "\n";

const waiting = new Map(); // id → resolve(answer message)
const sent = new Set();
let nextId = 0;

function answerFor(id) {
  sent.add(id);
  return new Promise((resolve) => waiting.set(id, resolve));
}

/**
 * The oversize request, its members in the given order: `id-first` as most serializers write them; `id-last` and
 * `method-and-id-last` (the huge params first) as others do — then the line's first bytes show neither its id nor its
 * method, and only a reader that reads the whole envelope can answer it under its id.
 */
function hugeRequest(id, order, sessionId, cwd) {
  const params = JSON.stringify({ sessionId, path: path.join(cwd, "huge.txt"), content: "" }).slice(0, -2); // …,"content":"
  const idMember = `"id":${JSON.stringify(id)}`;
  const methodMember = '"method":"fs/write_text_file"';
  const [head, tail] = {
    "id-first": [`{"jsonrpc":"2.0",${idMember},${methodMember},"params":${params}`, '"}}'],
    "id-last": [`{"jsonrpc":"2.0",${methodMember},"params":${params}`, `"},${idMember}}`],
    "method-and-id-last": [`{"jsonrpc":"2.0","params":${params}`, `"},${idMember},${methodMember}}`],
  }[order].map((text) => Buffer.from(text));
  const body = Buffer.alloc(mib * 1024 * 1024 - head.length - tail.length, "x");
  return Buffer.concat([head, body, tail]);
}

function nextRequest(round, sessionId, cwd) {
  const id = nextId++;
  if (round < 4) {
    return { id, method: "fs/write_text_file", params: { sessionId, path: path.join(cwd, `round-${round}.txt`), content: `round ${round}\n` } };
  }
  return {
    id,
    method: "session/request_permission",
    params: {
      sessionId,
      toolCall: { toolCallId: "after-huge", title: "Write after a huge line", kind: "edit", status: "pending" },
      options: [
        { optionId: "allow", name: "Allow", kind: "allow_once" },
        { optionId: "reject", name: "Reject", kind: "reject_once" },
      ],
    },
  };
}

const ways = ["same-write", "split-lf", "own-write", "split-next"];
const orders = ["id-last", "method-and-id-last", "id-first", "id-last"];

async function runRound(round, sessionId, cwd) {
  const way = ways[round - 1];
  const order = orders[round - 1];
  const hugeId = `huge-${round}`;
  const huge = hugeRequest(hugeId, order, sessionId, cwd);
  const request = nextRequest(round, sessionId, cwd);
  const requestLine = Buffer.from(line({ jsonrpc: "2.0", ...request }));
  const lf = Buffer.from("\n");
  const answers = [answerFor(hugeId), answerFor(request.id)];
  record({ event: "sent", id: hugeId, method: "fs/write_text_file", round, way, order, bytes: huge.length });
  record({ event: "sent", id: request.id, method: request.method, round, way, bytes: requestLine.length - 1 });
  switch (way) {
    case "same-write":
      await write(Buffer.concat([huge, lf, requestLine]));
      break;
    case "split-lf":
      await write(huge);
      await write(Buffer.concat([lf, requestLine]));
      break;
    case "own-write":
      await write(Buffer.concat([huge, lf]));
      await write(requestLine);
      break;
    default: {
      const half = Math.floor(requestLine.length / 2);
      await write(Buffer.concat([huge, lf, requestLine.subarray(0, half)]));
      await write(requestLine.subarray(half));
    }
  }

  const [hugeAnswer, answer] = await Promise.all(answers);
  const hugeRefused = hugeAnswer.error !== undefined;
  const answered = answer.result !== undefined && (request.method !== "session/request_permission" || answer.result.outcome?.outcome === "selected");
  return hugeRefused && answered;
}

async function runTurn(promptId, sessionId, cwd) {
  let allGood = true;
  for (let round = 1; round <= ways.length; round++) {
    allGood = (await runRound(round, sessionId, cwd)) && allGood;
  }
  const stopReason = allGood ? "end_turn" : "refusal";
  record({ event: "turn-end", stopReason, unanswered: [...waiting.keys()] });
  await write(line({ jsonrpc: "2.0", id: promptId, result: { stopReason } }));
}

const cwds = new Map(); // sessionId → the cwd session/new gave it (the sandbox)
const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", (text) => {
  if (text.length === 0) {
    return;
  }
  const message = JSON.parse(text);
  if (message.method === undefined) {
    // An answer to one of ours. A null id is the bridge's answer to a line it could not read at all: not ours to match.
    const resolve = waiting.get(message.id);
    record({ event: "answer", id: message.id, ok: message.error === undefined, code: message.error?.code, message: message.error?.message });
    if (resolve) {
      waiting.delete(message.id);
      resolve(message);
    }
    return;
  }
  switch (message.method) {
    case "initialize":
      void write(line({ jsonrpc: "2.0", id: message.id, result: { protocolVersion: 1, agentCapabilities: {}, authMethods: [] } }));
      break;
    case "session/new":
    {
      const sessionId = `oversize-sess-${cwds.size + 1}`;
      cwds.set(sessionId, message.params.cwd);
      void write(line({ jsonrpc: "2.0", id: message.id, result: { sessionId } }));
      break;
    }
    case "session/prompt":
      runTurn(message.id, message.params.sessionId, cwds.get(message.params.sessionId)).catch((error) => {
        record({ event: "error", message: String(error) });
        process.exit(1);
      });
      break;
    default:
      if (message.id !== undefined) {
        void write(line({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: `unknown method ${message.method}` } }));
      }
  }
});
input.on("close", () => {
  record({ event: "exit", sent: sent.size, unanswered: [...waiting.keys()] });
  process.exit(0);
});
