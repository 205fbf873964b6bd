using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// Hole 6, first half: an InterruptAll pressed while NewSessionAsync is (re)starting the agent is not lost — the
/// session is created interrupted. Deterministic: the agent's start blocks until the test has called InterruptAll.
/// </summary>
[TestFixture]
[Category("G1")]
public sealed class RestartRaceTests
{
    [Test]
    [CancelAfter(30_000)]
    public async Task InterruptAllDuringAgentRestart_SessionIsCreatedInterrupted()
    {
        using var starting = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        var starts = 0;
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - crash: { exit_code: 3 }
            """, o => new BridgeOptions
        {
            TimeProvider = o.TimeProvider,
            SandboxRoot = o.SandboxRoot,
            HttpClient = o.HttpClient,
            WireTap = o.WireTap,
            Restart = new RestartOptions { Budget = 1, InitialBackoff = TimeSpan.Zero },
            TransportFactory = () =>
            {
                if (Interlocked.Increment(ref starts) == 2)
                {
                    // The restart: hold it here, inside NewSessionAsync, until the test pressed Stop-all.
                    starting.Release();
                    release.Wait();
                }

                return o.TransportFactory!();
            },
        });
        var crashed = await lab.Bridge.NewSessionAsync();
        Assert.That((await lab.Bridge.PromptAsync(crashed, "crash").OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));

        var creating = Task.Run(() => lab.Bridge.NewSessionAsync());
        await starting.WaitAsync().OrTimeout();
        lab.Bridge.InterruptAll();
        release.Set();
        var session = await creating.OrTimeout();

        var created = lab.Of<SessionCreated>().Single(c => c.SessionId == session);
        Assert.That(created.CreatedInterrupted, Is.True, "the Stop-all pressed during the agent's start-up is not lost");
        var refused = Assert.ThrowsAsync<SessionStateException>(() => lab.Bridge.PromptAsync(session, "work"));
        Assert.That(refused!.Message, Does.Contain("was interrupted"));
        Assert.That(lab.Bridge.Audit.Snapshot().Any(r => r.Kind == ContainmentLab.Dispatch.AuditKind.Interrupted && r.SessionId == session), Is.True);
    }
}
