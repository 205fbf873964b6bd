// Checks every ACP wire line, in both directions, against the ACP v1 JSON Schema shipped in @agentclientprotocol/sdk.
//
// The schema's top level is an anyOf of three envelopes (Agent, Client, ProtocolLevel), each an anyOf of
// Request / Response / Notification. Their params and results are anyOfs that end in ExtRequest / ExtResponse /
// ExtNotification, which accept anything: a line can match the top level while its params are wrong for its method.
// So each line is checked twice:
//   1. against the envelope of its sender (Agent or Client, or ProtocolLevel for `$/…` notifications);
//   2. against the definition for its method: the schema marks each one with `x-method` (and `x-side`, the side that
//      handles it); a response is matched to its request by id, in the other direction. Extension methods (`_…`) are
//      checked against ExtRequest / ExtResponse / ExtNotification and counted under `extensions`, so a report says
//      they were only checked as extensions. A method that is not ACP v1 for its direction is a violation.
//
// Use as a module (wrap the byte streams handed to acp.ndJsonStream) or from the command line on a transcript:
//   node wire-check.mjs TRANSCRIPT.ndjson      lines {"dir":"in"|"out","line":"…"} as ContainmentLab's --transcript
//                                               writes them (the host is the client: in = agent→client)
// Exit code 0 when every line is valid, 1 on a violation (each printed as one line on stderr), 2 on bad usage.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";

export const AGENT_TO_CLIENT = "agent->client";
export const CLIENT_TO_AGENT = "client->agent";

/** The schema file inside the installed SDK package (the package does not export it, so by path). */
export const SCHEMA_PATH = fileURLToPath(new URL("./node_modules/@agentclientprotocol/sdk/schema/v1/schema.json", import.meta.url));

const MAX_QUOTED = 400;
const INT_RANGES = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint16: [0, 2 ** 16 - 1],
  uint32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

let compiled;

/** Compiles the schema once per process: a validator for the whole message and one per definition. */
function compile() {
  if (compiled) {
    return compiled;
  }

  const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  for (const [name, [min, max]] of Object.entries(INT_RANGES)) {
    ajv.addFormat(name, { type: "number", validate: (n) => Number.isInteger(n) && n >= min && n <= max });
  }
  ajv.addFormat("double", { type: "number", validate: (n) => Number.isFinite(n) });
  ajv.addFormat("uri", { type: "string", validate: (s) => URL.canParse(s) });
  ajv.addSchema(schema, "acp");

  const defs = schema.$defs;
  const def = (name) => {
    const validate = ajv.getSchema(`acp#/$defs/${name}`);
    if (!validate) {
      throw new Error(`the ACP schema has no definition '${name}'`);
    }
    return { name, validate };
  };

  // The definitions with an x-method reachable from one wrapper (AgentRequest, ClientResponse, …): method → definition.
  const methodsOf = (wrapper) => {
    const table = new Map();
    const walk = (node) => {
      if (Array.isArray(node)) {
        node.forEach(walk);
      } else if (node && typeof node === "object") {
        const ref = typeof node.$ref === "string" ? node.$ref.replace("#/$defs/", "") : undefined;
        if (ref && defs[ref]?.["x-method"]) {
          table.set(defs[ref]["x-method"], def(ref));
        }
        Object.values(node).forEach(walk);
      }
    };
    walk(defs[wrapper]);
    return table;
  };

  const envelope = (title) => {
    const index = schema.anyOf.findIndex((branch) => branch.title === title);
    if (index < 0) {
      throw new Error(`the ACP schema has no top-level '${title}' message`);
    }
    return { name: title, validate: ajv.getSchema(`acp#/anyOf/${index}`) };
  };

  compiled = {
    root: { name: "Agent Client Protocol", validate: ajv.getSchema("acp") },
    error: def("Error"),
    ext: { request: def("ExtRequest"), response: def("ExtResponse"), notification: def("ExtNotification") },
    protocolLevel: { envelope: envelope("ProtocolLevel"), notifications: new Map([["$/cancel_request", def("CancelRequestNotification")]]) },
    agent: { envelope: envelope("Agent"), requests: methodsOf("AgentRequest"), responses: methodsOf("AgentResponse"), notifications: methodsOf("AgentNotification") },
    client: { envelope: envelope("Client"), requests: methodsOf("ClientRequest"), responses: methodsOf("ClientResponse"), notifications: methodsOf("ClientNotification") },
  };
  return compiled;
}

// A failed anyOf/oneOf lists every branch's complaint; the deepest ones name what is really wrong
// (e.g. `/update/status must be one of "pending", …` rather than "must have required property 'content'").
function describeErrors(errors) {
  const all = errors ?? [];
  const depth = (e) => (e.instancePath === "" ? 0 : e.instancePath.split("/").length);
  const deepest = Math.max(0, ...all.map(depth));
  const atDepth = all.filter((e) => depth(e) === deepest);
  const specific = atDepth.filter((e) => !["anyOf", "oneOf", "allOf"].includes(e.keyword));
  const chosen = specific.length > 0 ? specific : atDepth;
  const allowed = new Map();
  for (const e of chosen.filter((e) => e.keyword === "const")) {
    allowed.set(e.instancePath, [...(allowed.get(e.instancePath) ?? []), JSON.stringify(e.params.allowedValue)]);
  }
  const messages = [
    ...[...allowed].map(([path, values]) => `${path || "/"} must be one of ${values.join(", ")}`),
    ...chosen
      .filter((e) => e.keyword !== "const")
      .map((e) => `${e.instancePath || "/"} ${e.message}${e.keyword === "enum" ? " " + JSON.stringify(e.params.allowedValues) : ""}`),
  ];
  return [...new Set(messages)].slice(0, 3).join("; ");
}

function quote(text) {
  return text.length > MAX_QUOTED ? text.slice(0, MAX_QUOTED) + `… (${text.length} chars)` : text;
}

/** Validates the lines of one connection, both directions, and keeps the violations and counts. */
export class WireChecker {
  /**
   * @param {{ onViolation?: (v: {direction: string, line: number, message: string, error: string}) => void,
   *           onMessage?: (direction: string, message: object) => void }} [options]
   */
  constructor(options = {}) {
    this.schema = compile();
    this.onViolation = options.onViolation ?? (() => {});
    this.onMessage = options.onMessage ?? (() => {});
    this.violations = [];
    this.lines = { [AGENT_TO_CLIENT]: 0, [CLIENT_TO_AGENT]: 0 };
    this.methods = { [AGENT_TO_CLIENT]: {}, [CLIENT_TO_AGENT]: {} };
    this.errorResponses = { [AGENT_TO_CLIENT]: 0, [CLIENT_TO_AGENT]: 0 };
    this.extensions = {};
    // Requests awaiting an answer, per the direction they were sent in: id (as JSON) → method.
    this.pending = { [AGENT_TO_CLIENT]: new Map(), [CLIENT_TO_AGENT]: new Map() };
  }

  /** Checks one line (without its terminator) sent in `direction`. */
  checkLine(direction, text) {
    const line = ++this.lines[direction];
    const fail = (error) => {
      const violation = { direction, line, message: quote(text), error };
      this.violations.push(violation);
      this.onViolation(violation);
    };

    let message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      fail(`not JSON: ${e.message}`);
      return;
    }

    const sender = direction === AGENT_TO_CLIENT ? this.schema.agent : this.schema.client;
    const isProtocolLevel = typeof message?.method === "string" && message.method.startsWith("$/");
    const envelope = isProtocolLevel ? this.schema.protocolLevel.envelope : sender.envelope;
    if (!this.schema.root.validate(message)) {
      fail(`does not match the ACP v1 schema: ${describeErrors(this.schema.root.validate.errors)}`);
      return;
    }
    if (!envelope.validate(message)) {
      fail(`not a valid ${envelope.name} message: ${describeErrors(envelope.validate.errors)}`);
      return;
    }

    this.onMessage(direction, message);
    const check = (definition, value, what) => {
      if (!definition.validate(value ?? null)) {
        fail(`${what} do not match ${definition.name}: ${describeErrors(definition.validate.errors)}`);
        return false;
      }
      return true;
    };

    if (typeof message.method === "string") {
      const method = message.method;
      const isRequest = "id" in message;
      this.methods[direction][method] = (this.methods[direction][method] ?? 0) + 1;
      let definition;
      if (method.startsWith("_")) {
        definition = isRequest ? this.schema.ext.request : this.schema.ext.notification;
        this.noteExtension(method, definition);
      } else if (isProtocolLevel) {
        definition = isRequest ? undefined : this.schema.protocolLevel.notifications.get(method);
      } else {
        definition = (isRequest ? sender.requests : sender.notifications).get(method);
      }
      if (!definition) {
        fail(`'${method}' is not an ACP v1 ${isRequest ? "request" : "notification"} for ${direction}`);
      } else {
        check(definition, message.params, "params");
      }
      if (isRequest) {
        this.pending[direction].set(JSON.stringify(message.id), method);
      }
      return;
    }

    // A response: it answers a request sent the other way.
    const requests = this.pending[direction === AGENT_TO_CLIENT ? CLIENT_TO_AGENT : AGENT_TO_CLIENT];
    const key = JSON.stringify(message.id);
    const method = requests.get(key);
    if ("error" in message) {
      this.errorResponses[direction]++;
    }
    if (method === undefined) {
      // An id-null error answers a line that could not be read (a parse error): the envelope check suffices.
      if (!(message.id === null && "error" in message)) {
        fail(`a response to id ${key}, which no request ${direction === AGENT_TO_CLIENT ? CLIENT_TO_AGENT : AGENT_TO_CLIENT} is waiting on`);
      }
      return;
    }
    requests.delete(key);
    if ("error" in message) {
      if (method.startsWith("_")) {
        this.noteExtension(method, this.schema.error);
      }
      check(this.schema.error, message.error, `error of the '${method}' response`);
    } else {
      // The side that answers is the sender of this response.
      const responder = direction === AGENT_TO_CLIENT ? this.schema.agent : this.schema.client;
      const definition = method.startsWith("_") ? this.schema.ext.response : responder.responses.get(method);
      if (method.startsWith("_")) {
        this.noteExtension(method, definition);
      }
      if (definition) {
        check(definition, message.result, `result of '${method}'`);
      } else {
        fail(`no ACP v1 response definition for '${method}' answered ${direction}`);
      }
    }
  }

  /** Extension methods say nothing in the schema: record which (permissive) definitions their lines were checked against. */
  noteExtension(method, definition) {
    (this.extensions[method] ??= new Set()).add(definition.name);
  }

  /** Counts for a report: lines, methods, error responses, extension methods, unanswered requests, violations. */
  summary() {
    return {
      schema: SCHEMA_PATH,
      lines: { ...this.lines },
      methods: this.methods,
      errorResponses: { ...this.errorResponses },
      extensions: Object.fromEntries(Object.entries(this.extensions).map(([method, names]) => [method, [...names].join(" / ")])),
      unanswered: {
        [AGENT_TO_CLIENT]: [...this.pending[AGENT_TO_CLIENT].values()],
        [CLIENT_TO_AGENT]: [...this.pending[CLIENT_TO_AGENT].values()],
      },
      violations: this.violations.length,
      firstViolations: this.violations.slice(0, 10),
    };
  }
}

/** One line per violation, naming the direction, the line number, the message and the schema error. */
export function formatViolation(v) {
  return `wire-check: ${v.direction} line ${v.line}: ${v.error}\n  message: ${v.message}`;
}

/** Splits a byte stream into lines (UTF-8, LF, an optional CR dropped) and hands each to `onLine`. */
function lineSplitter(onLine) {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let buffered = "";
  const emit = (text) => {
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (line.trim() !== "") {
      onLine(line);
    }
  };
  return {
    push(chunk) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        emit(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    },
    end() {
      buffered += decoder.decode();
      if (buffered !== "") {
        emit(buffered);
      }
      buffered = "";
    },
  };
}

/**
 * Wraps the byte streams of one side of a connection (the same pair acp.ndJsonStream takes: output, input) so every
 * line written and read is checked. `local` is the side this process plays: "agent" or "client".
 * The bytes pass through unchanged.
 */
export function checkStreams(checker, local, output, input) {
  const outgoing = local === "agent" ? AGENT_TO_CLIENT : CLIENT_TO_AGENT;
  const incoming = local === "agent" ? CLIENT_TO_AGENT : AGENT_TO_CLIENT;

  const written = lineSplitter((line) => checker.checkLine(outgoing, line));
  const writer = output.getWriter();
  const checkedOutput = new WritableStream({
    async write(chunk) {
      written.push(chunk);
      await writer.write(chunk);
    },
    async close() {
      written.end();
      await writer.close();
    },
    async abort(reason) {
      await writer.abort(reason);
    },
  });

  const read = lineSplitter((line) => checker.checkLine(incoming, line));
  const checkedInput = input.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        read.push(chunk);
        controller.enqueue(chunk);
      },
      flush() {
        read.end();
      },
    }),
  );

  return { output: checkedOutput, input: checkedInput };
}

function main(argv) {
  if (argv.length !== 1 || argv[0].startsWith("-")) {
    process.stderr.write("usage: node wire-check.mjs TRANSCRIPT.ndjson\n");
    return 2;
  }

  const checker = new WireChecker({ onViolation: (v) => process.stderr.write(formatViolation(v) + "\n") });
  const text = readFileSync(argv[0], "utf8");
  let number = 0;
  for (const row of text.split("\n")) {
    number++;
    if (row.trim() === "") {
      continue;
    }
    let entry;
    try {
      entry = JSON.parse(row);
    } catch (e) {
      process.stderr.write(`${argv[0]}:${number}: not JSON: ${e.message}\n`);
      return 2;
    }
    if (entry.dir === "in" || entry.dir === "out") {
      checker.checkLine(entry.dir === "in" ? AGENT_TO_CLIENT : CLIENT_TO_AGENT, String(entry.line).replace(/\r?\n$/, ""));
    }
  }

  process.stdout.write(JSON.stringify(checker.summary()) + "\n");
  return checker.violations.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
