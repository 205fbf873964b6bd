using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>The fixture runner's G9 oracle on hand-made run logs: it must catch what it claims to catch.</summary>
[TestFixture]
[Category("G9")]
[Category("Fixtures")]
public sealed class HostileOracleTests
{
    private static readonly DateTimeOffset s_at = DateTimeOffset.UnixEpoch;

    private static RunLog Log(
        IReadOnlyList<AgentRequestRecord> requests,
        IReadOnlyDictionary<string, int> responses,
        IReadOnlyList<RecordedEvent>? events = null,
        IReadOnlyList<TurnRecord>? turns = null)
    {
        var fixture = FixtureLoader.Parse("""
            name: t
            description: t
            agent:
              script: {}
            timeline:
              - prompt: s1
            """, "t.yaml");
        return new RunLog(fixture, new BridgeOptions(), new Dictionary<string, string> { ["s1"] = "sess-1" }, events ?? [], [], turns ?? [], [], [], null)
        {
            AgentRequests = requests,
            HostResponses = responses,
        };
    }

    private static TurnRecord Turn(double from, double to) => new("s1", "sess-1", 1, TimeSpan.FromSeconds(from))
    {
        EndedAt = TimeSpan.FromSeconds(to),
        Outcome = new TurnOutcome("sess-1", TurnEnd.Completed, "end_turn", false, TimeSpan.FromSeconds(to - from), null, false, null),
    };

    private static AgentRequestRecord Request(string id, double at = 1, long line = 5) => new(TimeSpan.FromSeconds(at), line, id, "_containmentlab/tool");

    [Test]
    public void G9_EveryRequestAnswered_Holds()
    {
        var log = Log([Request("0"), Request("\"a\""), Request("910")], new Dictionary<string, int> { ["0"] = 1, ["\"a\""] = 1, ["910"] = 1 });

        Assert.That(GuaranteeChecks.Check("G9", log), Is.Null);
    }

    [Test]
    public void G9_ARequestNeverAnswered_NamesItsIdAndLine()
    {
        var log = Log([Request("0"), Request("910", line: 17)], new Dictionary<string, int> { ["0"] = 1 });

        Assert.That(GuaranteeChecks.Check("G9", log), Is.EqualTo("G9: the agent's request 910 ('_containmentlab/tool', wire line 17) was never answered"));
    }

    [Test]
    public void G9_TheSameIdTwiceAnsweredOnce_IsCaught()
    {
        var log = Log([Request("7"), Request("7", line: 9)], new Dictionary<string, int> { ["7"] = 1 });

        Assert.That(GuaranteeChecks.Check("G9", log), Does.Contain("request 7"));
    }

    [Test]
    public void G9_UnansweredBecauseTheAgentDiedFirst_Holds()
    {
        var exited = new RecordedEvent(TimeSpan.FromSeconds(3), new AgentExited(s_at, 137, 9, string.Empty, "killed"));
        var log = Log([Request("0", at: 1)], new Dictionary<string, int>(), [exited]);

        Assert.That(GuaranteeChecks.Check("G9", log), Is.Null);
    }

    [Test]
    public void G9_UnansweredAfterARestartedAgent_IsCaught()
    {
        var exited = new RecordedEvent(TimeSpan.FromSeconds(3), new AgentExited(s_at, 137, 9, string.Empty, "killed"));
        var log = Log([Request("0", at: 1), Request("0", at: 6)], new Dictionary<string, int>(), [exited]);

        Assert.That(GuaranteeChecks.Check("G9", log), Does.Contain("request 0"));
    }

    [Test]
    public void G9_DispatchOutsideAnyTurnOfItsSession_IsCaught()
    {
        var inside = new RecordedEvent(TimeSpan.FromSeconds(2), new ToolDispatched(s_at, "sess-1", "sess-1/t1", "desktop.press", 1));
        var after = new RecordedEvent(TimeSpan.FromSeconds(5), new ToolDispatched(s_at, "sess-1", "sess-1/t2", "desktop.press", 3));

        Assert.That(GuaranteeChecks.Check("G9", Log([], new Dictionary<string, int>(), [inside], [Turn(1, 4)])), Is.Null);
        Assert.That(
            GuaranteeChecks.Check("G9", Log([], new Dictionary<string, int>(), [inside, after], [Turn(1, 4)])),
            Does.StartWith("G9: sess-1/t2 (desktop.press) was dispatched in session s1 at 5"));
    }

    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"fs/read_text_file","params":{}}""", true, "3", "fs/read_text_file")]
    [TestCase("""{"jsonrpc":"2.0","id":"x","result":{}}""", false, "\"x\"", null)]
    [TestCase("""{"jsonrpc":"2.0","id":910,"method":"m","params":{"a":""", true, "910", "m")]
    [TestCase("""{"jsonrpc":"2.0","method":"session/update","params":{"id":1}}""", false, null, "session/update")]
    [TestCase("not json", false, null, null)]
    public void WireShapeOf_ReadsTopLevelIdAndMethod(string line, bool isRequest, string? id, string? method)
    {
        Assert.That(RunRecorder.WireShapeOf(Encoding.UTF8.GetBytes(line)), Is.EqualTo((isRequest, id, method)));
    }
}
