using System.Text.Json;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// A client written with the official ACP TypeScript SDK (tests/interop/sdk-client.mjs) drives
/// <c>containmentlab fake-agent</c> storming tool calls, and presses Stop: the SDK takes every message the fake agent
/// sends, every line matches the ACP v1 schema, the turn ends <c>cancelled</c>, and the fake agent exits when its
/// stdin closes.
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
[NonParallelizable]
public sealed class SdkClientInteropTests
{
    private const int CancelAfter = 40;

    /// <remarks>
    /// The honouring fake agent answers the prompt <c>cancelled</c> without waiting for the calls it still has in flight
    /// (ACP allows it), so its answer can reach the client before the client's refusals of those calls are written. The
    /// client once closed the connection on that answer and dropped the refusals (an agent request unanswered, on a loaded
    /// machine only); it now waits until every agent request has its answer on the wire. The second case makes the client
    /// slow on purpose, so that the answer overtakes the refusals every time the agent had calls in flight.
    /// </remarks>
    [TestCase(0, TestName = "SdkClient_StormingFakeAgent_TakesEveryMessageAndEndsCancelled")]
    [TestCase(50, TestName = "SdkClient_SlowRefusals_StormingFakeAgent_EveryAgentRequestAnsweredBeforeTheClientCloses")]
    [CancelAfter(60_000)]
    public async Task SdkClient_StormingFakeAgent_TakesEveryMessageAndEndsCancelled(int refusalDelayMs, CancellationToken cancellationToken)
    {
        Assert.That(File.Exists(InteropSetup.CliPath), Is.True, $"the CLI is built at {InteropSetup.CliPath}");
        var cwd = Directory.CreateTempSubdirectory("cl-interop-client-").FullName;
        try
        {
            var run = await NodeProcess.RunAsync(
                InteropSetup.Node,
                [InteropSetup.Script("sdk-client.mjs"), "--cwd", cwd, "--cancel-after", $"{CancelAfter}", "--refusal-delay-ms", $"{refusalDelayMs}", "--", InteropSetup.CliPath, "fake-agent", "--script", InteropSetup.Script("fake-agent-storm.yaml")],
                InteropSetup.InteropDirectory,
                TimeSpan.FromSeconds(45),
                cancellationToken);

            var context = $"exit code {run.ExitCode}\nstdout: {run.Stdout}\nstderr: {run.Stderr}";
            Assert.That(run.Stdout, Does.StartWith("{"), $"sdk-client.mjs printed no summary; {context}");
            var summary = JsonDocument.Parse(run.Stdout).RootElement;

            // The client reaped its agent before it exited: neither is left (checked first, so a failure below leaves nothing).
            await ChildAgent.AssertGoneAsync(run.ProcessId);
            var agentPid = summary.GetProperty("agentPid").GetInt32();
            await Until.TrueAsync(() => ProcessGroups.IsDead(agentPid), $"fake agent pid {agentPid} gone");

            Assert.That(run.ExitCode, Is.Zero, context);
            var counts = summary.GetProperty("counts");
            var wire = summary.GetProperty("wire");
            Assert.Multiple(() =>
            {
                Assert.That(summary.GetProperty("stopReason").GetString(), Is.EqualTo("cancelled"), context);
                Assert.That(summary.GetProperty("protocolVersion").GetInt32(), Is.EqualTo(1));
                Assert.That(summary.GetProperty("agentInfo").GetProperty("name").GetString(), Is.EqualTo("containmentlab-fake-agent"));
                Assert.That(summary.GetProperty("agentInfo").GetProperty("version").GetString(), Is.Not.Empty, "ACP requires agentInfo.version (the script has no name)");

                // Stop was pressed after exactly N tool requests; the honouring agent stopped issuing new ones at once,
                // so only the ones already in flight (at most the storm's concurrency) came after it, each refused.
                Assert.That(summary.GetProperty("cancel").GetProperty("afterToolRequests").GetInt32(), Is.EqualTo(CancelAfter));
                Assert.That(counts.GetProperty("beforeCancel").GetInt32(), Is.EqualTo(CancelAfter));
                Assert.That(counts.GetProperty("afterCancel").GetInt32(), Is.InRange(0, 4));
                Assert.That(counts.GetProperty("refused").GetInt32(), Is.EqualTo(counts.GetProperty("afterCancel").GetInt32()));
                Assert.That(counts.GetProperty("byMethod").GetProperty("_containmentlab/tool").GetInt32(), Is.Positive);
                Assert.That(counts.GetProperty("byMethod").GetProperty("fs/write_text_file").GetInt32(), Is.Positive);
                Assert.That(counts.GetProperty("byMethod").GetProperty("session/request_permission").GetInt32(), Is.EqualTo(1));
                Assert.That(counts.GetProperty("updates").GetProperty("tool_call").GetInt32(), Is.Positive);
                Assert.That(counts.GetProperty("updates").GetProperty("tool_call_update").GetInt32(), Is.Positive);

                // The SDK took every message: no console.error complaint, no error answer it made up itself.
                Assert.That(summary.GetProperty("sdkErrors").GetArrayLength(), Is.Zero, () => summary.GetProperty("sdkErrors").ToString());
                Assert.That(summary.GetProperty("sdkRejections").GetArrayLength(), Is.Zero, () => summary.GetProperty("sdkRejections").ToString());

                // Every line, both ways, matched the ACP v1 schema for its method; _containmentlab/tool as an extension.
                Assert.That(summary.GetProperty("violations").GetInt32(), Is.Zero, () => wire.GetProperty("firstViolations").ToString());
                Assert.That(wire.GetProperty("lines").GetProperty("agent->client").GetInt32(), Is.GreaterThan(2 * CancelAfter));
                Assert.That(wire.GetProperty("lines").GetProperty("client->agent").GetInt32(), Is.GreaterThan(CancelAfter));
                Assert.That(wire.GetProperty("extensions").GetProperty("_containmentlab/tool").GetString(), Does.StartWith("ExtRequest / ExtResponse"));
                Assert.That(wire.GetProperty("unanswered").GetProperty("agent->client").GetArrayLength(), Is.Zero, () => "the client answered every agent request: " + wire.GetProperty("unanswered"));
                Assert.That(summary.GetProperty("drained").GetBoolean(), Is.True, "the client closed only once every agent request had its answer on the wire");
                Assert.That(summary.GetProperty("requestsAfterPromptAnswer").GetArrayLength(), Is.Zero, () => "the agent sent no request after answering the prompt: " + summary.GetProperty("requestsAfterPromptAnswer"));
                Assert.That(wire.GetProperty("unanswered").GetProperty("client->agent").GetArrayLength(), Is.Zero, "the agent answered every client request");

                var exit = summary.GetProperty("agentExit");
                Assert.That(exit.GetProperty("byItself").GetBoolean(), Is.True, "the fake agent exited when its stdin closed");
                Assert.That(exit.GetProperty("code").GetInt32(), Is.Zero);
            });
        }
        finally
        {
            Directory.Delete(cwd, recursive: true);
        }
    }
}
