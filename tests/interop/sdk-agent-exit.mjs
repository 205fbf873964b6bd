// An ACP agent written with the official TypeScript SDK that dies in the middle of a turn and leaves a child holding
// its stdout, for ContainmentLab's G5 interop fixture (sdk-agent-exit.yaml):
//
//   node sdk-agent-exit.mjs
//
// On a prompt it says one line, presses a button with `_containmentlab/tool` (so the turn is really under way), then
// starts `sleep 300` with its stdio inherited — the child holds the agent's stdout and stderr open, so the host never
// sees end of file — writes `sdk-agent-exit: child pid=N` to stderr, and exits 3 without answering the prompt.
// A host that waits for end of file to notice the death waits as long as the child lives.

import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";

let sessionCount = 0;

const app = acp
  .agent({ name: "containmentlab-interop-sdk-agent-exit" })
  .onRequest(acp.methods.agent.initialize, () => ({
    protocolVersion: acp.PROTOCOL_VERSION,
    agentCapabilities: {},
    agentInfo: { name: "containmentlab-interop-sdk-agent-exit", version: "1.0.0" },
    authMethods: [],
  }))
  .onRequest(acp.methods.agent.session.new, () => ({ sessionId: `sdk-exit-sess-${++sessionCount}` }))
  .onRequest(acp.methods.agent.session.prompt, async ({ params, client }) => {
    await client.notify(acp.methods.client.session.update, {
      sessionId: params.sessionId,
      update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "Pressing OK, then dying." } },
    });
    await client.request("_containmentlab/tool", {
      sessionId: params.sessionId, toolCallId: "press-1", name: "desktop.press", arguments: { target: "OK" },
    });
    const child = spawn("sleep", ["300"], { stdio: "inherit" });
    process.stderr.write(`sdk-agent-exit: child pid=${child.pid}\n`);
    process.exit(3);
  })
  .onNotification(acp.methods.agent.session.cancel, () => {});

app.connect(acp.ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin)));
