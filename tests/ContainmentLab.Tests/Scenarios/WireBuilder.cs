using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// Hand-made wire evidence for the oracle tests, through the real tap types: each <see cref="Agent"/> is one read call
/// of the bridge's returning that line, each <see cref="Bridge"/> one write call; the bridge's own view (its reader's
/// line numbers) is added per line, or left out to make a line the bridge lost. With a <paramref name="host"/>, this is
/// a kill_host host's tap: everything is also streamed to it, as the host's recorder does (the bridge's reads as
/// <c>in</c> lines).
/// </summary>
internal sealed class WireBuilder(int index = 1, double startedAt = 0, string? accountPath = null, IRunObserver? host = null)
{
    private readonly TapConnection _connection = new(index, TimeSpan.FromSeconds(startedAt), accountPath, host);
    private long _agentLines;

    public static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>
    /// The agent wrote <paramref name="json"/> and a LF, read off the pipe at <paramref name="at"/>; unless
    /// <paramref name="bridgeReads"/> is false the bridge's reader handed it on, as its line <paramref name="bridgeNumber"/>
    /// (default: the tap's number).
    /// </summary>
    public WireBuilder Agent(double at, string json, bool bridgeReads = true, long? bridgeNumber = null)
    {
        Raw(at, Encoding.UTF8.GetBytes(json + "\n"));
        if (bridgeReads)
        {
            BridgeRead(bridgeNumber ?? _agentLines, json, at);
        }

        return this;
    }

    /// <summary>One read call returning <paramref name="bytes"/> as they are (no bridge view added).</summary>
    public WireBuilder Raw(double at, byte[] bytes)
    {
        var call = _connection.FromAgent.BeginCall(S(at));
        _connection.FromAgent.EndCall(call, S(at), bytes);
        _agentLines += bytes.Count(b => b == (byte)'\n');
        return this;
    }

    /// <summary>The bridge's reader handed on line <paramref name="number"/> with these bytes.</summary>
    public WireBuilder BridgeRead(long number, string line, double at = 0)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        _connection.OnBridgeRead(number, bytes);
        host?.OnReceived(S(at), _connection.Index, number, bytes);
        return this;
    }

    /// <summary>The bridge's reader asked for more at <paramref name="at"/> and is still waiting.</summary>
    public WireBuilder Waiting(double at)
    {
        _connection.FromAgent.BeginCall(S(at));
        return this;
    }

    /// <summary>The agent's stdout ended (a read returned nothing).</summary>
    public WireBuilder AgentEnd(double at)
    {
        var call = _connection.FromAgent.BeginCall(S(at));
        _connection.FromAgent.EndCall(call, S(at), default);
        return this;
    }

    /// <summary>The bridge wrote <paramref name="json"/> and a LF to the agent at <paramref name="at"/>; <paramref name="returnedAt"/> when the write returned (default: at once).</summary>
    public WireBuilder Bridge(double at, string json, double? returnedAt = null)
    {
        var bytes = Encoding.UTF8.GetBytes(json + "\n");
        var call = _connection.ToAgent.BeginCall(S(at));
        _connection.ToAgent.Written(call, S(at), bytes);
        _connection.ToAgent.EndCall(call, S(returnedAt ?? at), default);
        return this;
    }

    public WireBuilder GiveUp(double at, string how = "killed")
    {
        _connection.OnGiveUp(S(at), how);
        return this;
    }

    public WireBuilder Exited(double at, int? code = 0, int? signal = null)
    {
        _connection.OnExited(S(at), new AgentExit(code, signal, string.Empty));
        return this;
    }

    public TapConnectionRecord Build() => _connection.Snapshot();

    public static string Tool(long id, string toolCallId, string session = "sess-1", string name = "desktop.press") =>
        "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"_containmentlab/tool\",\"params\":{\"sessionId\":\"" + session + "\",\"toolCallId\":\"" + toolCallId
        + "\",\"name\":\"" + name + "\",\"arguments\":{\"target\":\"OK\"}}}";

    public static string Permission(long id, string toolCallId, string session = "sess-1") =>
        "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"session/request_permission\",\"params\":{\"sessionId\":\"" + session + "\",\"toolCall\":{\"toolCallId\":\"" + toolCallId
        + "\",\"title\":\"t\",\"kind\":\"edit\",\"status\":\"pending\"},\"options\":[]}}";

    public static string Result(long id, string result = "{}") => "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":" + result + "}";

    public static string Error(long id, int code = -32001) => "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"error\":{\"code\":" + code + ",\"message\":\"no\"}}";

    public static string Prompt(long id, string session = "sess-1") =>
        "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"session/prompt\",\"params\":{\"sessionId\":\"" + session + "\",\"prompt\":[]}}";

    public static string Cancel(string session = "sess-1") => "{\"jsonrpc\":\"2.0\",\"method\":\"session/cancel\",\"params\":{\"sessionId\":\"" + session + "\"}}";

    public static string NewSession(long id) => "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"session/new\",\"params\":{\"cwd\":\"/\",\"mcpServers\":[]}}";

    public static string Update(string toolCallId, string kind = "tool_call_update", string status = "in_progress", string session = "sess-1", string title = "Deploy") =>
        "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"" + session + "\",\"update\":{\"sessionUpdate\":\"" + kind + "\",\"toolCallId\":\"" + toolCallId
        + "\",\"title\":\"" + title + "\",\"status\":\"" + status + "\"}}}";

    /// <summary>A run log around the wire evidence: one session s1 = sess-1, its turns, actions and events as given.</summary>
    public static RunLog Log(
        IReadOnlyList<TapConnectionRecord> wire,
        BridgeOptions? options = null,
        IReadOnlyList<RecordedEvent>? events = null,
        IReadOnlyList<ActionRecord>? actions = null,
        IReadOnlyList<TurnRecord>? turns = null,
        IReadOnlyList<AuditRecord>? audit = null,
        IReadOnlyList<AuditRecord>? auditFile = null,
        string timeline = "  - prompt: s1\n") =>
        new(Fixture(timeline), options ?? new BridgeOptions(), new Dictionary<string, string> { ["s1"] = "sess-1" }, events ?? [], actions ?? [], turns ?? [], audit ?? [], [], null)
        {
            Wire = wire,
            AuditFile = auditFile ?? audit ?? [],
            StartedUtc = DateTimeOffset.UnixEpoch,
            StoppedAt = S(100),
        };

    public static Fixture Fixture(string timeline) => FixtureLoader.Parse("name: t\ndescription: t\nagent:\n  script: {}\ntimeline:\n" + timeline, "t.yaml");

    /// <summary>An audit record at <paramref name="at"/> seconds into the run (the log's start is the Unix epoch).</summary>
    public static AuditRecord Audit(long seq, double at, AuditKind kind, string toolCallId, string session = "sess-1", string? requestId = null) =>
        new(seq, DateTimeOffset.UnixEpoch + S(at), kind, session, toolCallId, "desktop.press", requestId, null);

    public static TurnRecord Turn(double from, double to, TurnEnd end = TurnEnd.Completed, bool interrupted = false) => new("s1", "sess-1", 1, S(from))
    {
        EndedAt = S(to),
        Outcome = new TurnOutcome("sess-1", end, end == TurnEnd.Cancelled ? "cancelled" : "end_turn", interrupted, S(to - from), null, false, null),
    };

    public static RecordedEvent Event(double at, ContainmentEvent e) => new(S(at), e);
}
