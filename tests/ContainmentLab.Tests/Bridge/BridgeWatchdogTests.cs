using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace ContainmentLab.Tests.Bridge;

/// <summary>The watchdog wired into the bridge: hung host tools are cancelled at their deadline and their session interrupted.</summary>
[TestFixture]
[Category("G4")]
[CancelAfter(30_000)]
public sealed class BridgeWatchdogTests
{
    /// <summary>A host tool that never finishes (until cancelled), optionally showing activity when asked.</summary>
    private sealed class HangTool : HostTool
    {
        public override string Name => "test.hang";

        public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

        public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    private static Func<Sandbox, VirtualDesktop, HttpClient, HostToolRegistry> WithHangTool =>
        (sandbox, desktop, http) => HostToolRegistry.CreateDefault(sandbox, desktop, http).Add(new HangTool());

    [Test]
    public async Task HungHostTool_CancelledAtDeadline_SessionInterruptedAndTurnCancelled()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - tool: test.hang
                  - tool: desktop.press
                    arguments: { target: never }
            """, o => InProcessBridge.With(o, tools: WithHangTool, watchdog: new WatchdogOptions()));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "hang");
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 1 && lab.Audit.Any(r => r.Kind == AuditKind.Began), "the hung call is watched and running");

        // A host tool that matches no pattern gets the default ToolTimeout of 300 s (above the 60 s window).
        lab.Time.Advance(TimeSpan.FromSeconds(300) - TimeSpan.FromTicks(1));
        Assert.That(lab.Of<ToolHangCanceled>(), Is.Empty);
        lab.Time.Advance(TimeSpan.FromTicks(1));
        var outcome = await turn.OrTimeout();

        await Until.TrueAsync(() => AuditChecks.ExactlyOneTerminalRecord(lab.Audit).Count == 0, "the hung call's terminal record");
        var hang = lab.Of<ToolHangCanceled>().Single();
        Assert.That(hang.ToolName, Is.EqualTo("test.hang"));
        Assert.That(hang.DurationSeconds, Is.EqualTo(300));
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled), "the watchdog interrupts the session; the agent acks");
        var records = lab.Audit;
        Assert.That(records.Single(r => r.Kind == AuditKind.Canceled).Detail, Does.StartWith("watchdog: no activity for 300 s"));
        Assert.That(records.Single(r => r.Kind == AuditKind.Interrupted).Detail, Does.Contain("watchdog"));
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero, "nothing of the session ran after the watchdog's interrupt");
        Assert.That(lab.Bridge.ActiveWatches, Is.Zero);
    }

    [Test]
    public async Task ManyToolCalls_NoWatchdogTimerOutlivesThem()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - storm: { count: 1000, concurrency: 8, tools: [desktop.press, desktop.key], seed: 1 }
            """);
        var session = await lab.Bridge.NewSessionAsync();

        var outcome = await lab.Bridge.PromptAsync(session, "storm");

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Bridge.ActiveWatches, Is.Zero);
        lab.Time.Advance(TimeSpan.FromHours(1));
        Assert.That(lab.Of<ToolHangCanceled>(), Is.Empty);
    }

    [Test]
    [Category("Process")]
    public async Task HungHttpRequest_CancelledByTheWatchdogAtItsDeadline()
    {
        using var server = WireMockServer.Start();
        server.Given(Request.Create().WithPath("/slow").UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithDelay(TimeSpan.FromSeconds(20)));
        await using var lab = await InProcessBridge.StartAsync($$"""
            prompts:
              - steps:
                  - tool: http.request
                    arguments: { method: GET, url: "{{server.Url}}/slow" }
            """, o => InProcessBridge.With(o, watchdog: new WatchdogOptions()));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "fetch");
        // Watched from dispatch, sent from 'began': moved on before that, the watchdog's interrupt stops the call before
        // its request leaves (correctly, G1) and there is no hung request left to cancel.
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 1 && lab.Audit.Any(r => r.Kind == AuditKind.Began), "the request is under way and watched");

        lab.Time.Advance(TimeSpan.FromSeconds(60));
        var outcome = await turn.OrTimeout();

        await Until.TrueAsync(() => AuditChecks.ExactlyOneTerminalRecord(lab.Audit).Count == 0, "the hung call's terminal record");
        Assert.That(lab.Of<ToolHangCanceled>().Single().ToolName, Is.EqualTo("http.request"));
        Assert.That(lab.Audit.Single(r => r.Kind == AuditKind.Canceled).Detail, Does.StartWith("watchdog:"));
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        server.Stop();
    }
}
