using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Tests.Support;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>G1 where it matters: a real HTTP server counts what reached it after Stop.</summary>
[TestFixture]
[Category("G1")]
[NonParallelizable]
public sealed class HttpStormTests
{
    private WireMockServer _server = null!;

    [SetUp]
    public void SetUp()
    {
        _server = WireMockServer.Start();
        _server.Given(Request.Create().WithPath("/ping").UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithBody("pong"));
    }

    [TearDown]
    public void TearDown()
    {
        _server.Stop();
        _server.Dispose();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task HttpStorm_Interrupted_NothingUndispatchedReachesTheServer([Values(1, 8)] int concurrency)
    {
        await using var lab = await InProcessBridge.StartAsync($$"""
            prompts:
              - steps:
                  - storm: { count: 400, concurrency: {{concurrency}}, tools: [http.request], seed: 5, http_url: "{{_server.Url}}/ping" }
                  - end: end_turn
            """);
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "storm");
        await Until.TrueAsync(() => lab.Dispatched(session) >= 60, "60 http.request dispatches");

        lab.Bridge.Interrupt(session);
        var outcome = await turn.OrTimeout();
        await Until.TrueAsync(() => AuditChecks.ExactlyOneTerminalRecord(lab.Audit).Count == 0, "every dispatched call ended");

        var records = lab.Audit;
        var dispatched = records.Where(r => r.Kind == AuditKind.Dispatched).Select(r => r.ToolCallId!).ToHashSet();
        var completed = records.Where(r => r.Kind == AuditKind.Completed).Select(r => r.ToolCallId!).ToHashSet();
        var received = _server.LogEntries.Select(e => e.RequestMessage!.Headers![HttpRequestTool.ToolCallHeader].Single()).ToList();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(dispatched, Has.Count.LessThan(400), "the interrupt landed mid-storm");
        Assert.That(received, Is.Unique, "no request reached the server twice");
        Assert.That(received, Is.SubsetOf(dispatched), "a request reached the server without a dispatched record");
        Assert.That(completed, Is.SubsetOf(received), "a completed call never reached the server");

        // Equal, except for calls dispatched before Stop whose request Stop cancelled before it left the host.
        var canceledUnsent = records.Count(r => r.Kind == AuditKind.Canceled && !received.Contains(r.ToolCallId!));
        Assert.That(received, Has.Count.EqualTo(dispatched.Count - canceledUnsent));
        Assert.That(AuditChecks.NoDispatchAfterInterrupt(records), Is.Empty);
    }
}
