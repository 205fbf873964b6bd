using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// The bridge's waits that are about a process, with real processes (G3): the shutdown ladder's steps, disposal of a
/// live agent, the exit status while a descendant floods the agent's stderr, and the connection's teardown with a tool
/// that ignores its cancellation. Each ends at its bound, typed; none waits for ever.
/// </summary>
[TestFixture]
[Category("G3")]
[Category("Process")]
[NonParallelizable]
public sealed class BoundedProcessAwaitTests
{
    [TestCase("exec cat > /dev/null", null, 0, TestName = "StopAsync_AgentExitsAtEndOfInput_FirstStepEndsIt")]
    [TestCase("exec sleep 300", 15, null, TestName = "StopAsync_AgentIgnoresEndOfInput_SigtermEndsIt")]
    [TestCase("trap '' TERM; exec sleep 300", 9, null, TestName = "StopAsync_AgentIgnoresSigterm_TheKillEndsIt")]
    [CancelAfter(30_000)]
    public async Task StopAsync_EachStepOfTheLadderIsBounded(string script, int? signal, int? exitCode)
    {
        await using var agent = AgentProcess.Start(new AgentCommand("/bin/sh", ["-c", script]));
        var pid = agent.ProcessId!.Value;

        await agent.StopAsync(TimeSpan.FromMilliseconds(300), TimeProvider.System).OrTimeout();

        var exit = await agent.Exited.OrTimeout();
        Assert.That((exit.Signal, exit.ExitCode), Is.EqualTo((signal, exitCode)), exit.Describe());
        await ChildAgent.AssertGoneAsync(pid);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task Dispose_LiveAgent_KillsItAndReturns()
    {
        var agent = AgentProcess.Start(new AgentCommand("/bin/sh", ["-c", "trap '' TERM; exec sleep 300"]));
        var pid = agent.ProcessId!.Value;

        await agent.DisposeAsync().AsTask().OrTimeout();

        Assert.That((await agent.Exited.OrTimeout()).Signal, Is.EqualTo(9));
        await ChildAgent.AssertGoneAsync(pid);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task Exited_ADescendantFloodsTheAgentsStderr_TheExitStatusStillComes()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"cl-stderr-flood-{Guid.NewGuid():N}.pid");
        var agent = AgentProcess.Start(new AgentCommand("/bin/sh", ["-c", $"(while :; do echo flood >&2; done) & echo $! > {pidFile}; exit 3"]));
        try
        {
            // The stderr reader never sees the pipe empty while the child writes: the exit status waits for it only briefly.
            var exit = await agent.Exited.OrTimeout();

            Assert.That(exit.ExitCode, Is.EqualTo(3));
            Assert.That(exit.StderrTail, Does.Contain("flood"));
        }
        finally
        {
            await agent.DisposeAsync();
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var child))
            {
                NativeSignalsForTests.Kill(child);
                await ChildAgent.AssertGoneAsync(child);
            }

            File.Delete(pidFile);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Dispose_AToolIgnoresItsCancellation_ConnectionTeardownReturnsAtItsBound()
    {
        using var script = new ChildAgent("""
            prompts:
              - steps:
                  - tool: deaf.tool
                    arguments: {}
            """);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource<JsonElement>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = script.Command,
            Tools = (_, _, _) => new HostToolRegistry().Add(new DeafTool(started, never.Task)),
            Sweep = new ContainmentLab.Sweep.OrphanSweepOptions { Enabled = false, SweepAtStart = false },
        });
        int? pid = null;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync();
            var turn = bridge.PromptAsync(session, "work");
            await started.Task.OrTimeout();

            // The tool never ends, whatever its token says: the teardown waits for it only up to its bound.
            await bridge.DisposeAsync().AsTask().OrTimeout();

            Assert.That((await turn.OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));
        }
        finally
        {
            await bridge.DisposeAsync();
            never.TrySetResult(default);
            if (pid is { } p)
            {
                await ChildAgent.AssertGoneAsync(p);
            }
        }
    }

    private sealed class DeafTool(TaskCompletionSource started, Task<JsonElement> never) : HostTool
    {
        public override string Name => "deaf.tool";

        public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

        public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
        {
            started.TrySetResult();
            return new ValueTask<JsonElement>(never);
        }
    }

    private static class NativeSignalsForTests
    {
        public static void Kill(int pid)
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill();
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
