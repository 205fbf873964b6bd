using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>What the tap saw of one agent process, after the run.</summary>
/// <param name="GaveUpAt">When the bridge first asked the transport to stop the agent (kill, graceful stop or dispose).</param>
/// <param name="ExitedAt">When the process ended, as its transport saw it (the OS's exit, not the bridge's notice).</param>
internal sealed record TapConnectionRecord(
    int Index,
    TimeSpan StartedAt,
    int? ProcessId,
    TapStreamRecord FromAgent,
    TapStreamRecord ToAgent,
    IReadOnlyDictionary<long, BridgeRead> BridgeReads,
    TimeSpan? GaveUpAt,
    string? GaveUpHow,
    TimeSpan? ExitedAt,
    AgentExit? Exit)
{
    public string? AccountPath { get; init; }

    /// <summary>When the agent went away by itself: its process ended or its stdout reached end of stream.</summary>
    public TimeSpan? AgentGoneAt => (ExitedAt, FromAgent.EndedAt) switch
    {
        ({ } a, { } b) => a < b ? a : b,
        ({ } a, null) => a,
        (null, var b) => b,
    };

    /// <summary>The agent went away before the bridge asked it to stop (a crash, a closed stdout), not because it was stopped.</summary>
    public bool AgentDiedFirst => AgentGoneAt is { } gone && (GaveUpAt is not { } gaveUp || gone <= gaveUp);

    /// <summary>When this connection stopped carrying anything: the first of the agent's end and the bridge's stop.</summary>
    public TimeSpan? EndedAt => (AgentGoneAt, GaveUpAt) switch
    {
        ({ } a, { } b) => a < b ? a : b,
        ({ } a, null) => a,
        (null, var b) => b,
    };

    /// <summary>The agent's requests (a method and a readable, non-null id), in wire order.</summary>
    public IEnumerable<TapLine> Requests => FromAgent.Lines.Where(l => l.Head.Kind == LineKind.Request);

    /// <summary>The bridge's answers to the agent's requests, in wire order.</summary>
    public IEnumerable<TapLine> Answers => ToAgent.Lines.Where(l => l.Head.Kind == LineKind.Response && l.Head.Id is not null);

    /// <summary>The <c>session/cancel</c> lines the bridge wrote.</summary>
    public IEnumerable<TapLine> Cancels => ToAgent.Lines.Where(l => l.Head is { Kind: LineKind.Notification, Method: "session/cancel" });

    /// <summary>
    /// The sessions of this agent: the id its <c>session/new</c> answer gave, when the bridge asked (its request's line
    /// went out) and when the answer came.
    /// </summary>
    public IReadOnlyList<(string SessionId, TimeSpan AskedAt, TimeSpan CreatedAt)> Sessions()
    {
        var asked = ToAgent.Lines.Where(l => l.Head is { Kind: LineKind.Request, Method: "session/new" }).ToDictionary(l => l.Head.Id!, l => l.At, StringComparer.Ordinal);
        return [.. FromAgent.Lines
            .Where(l => l.Head is { Kind: LineKind.Response, Id: { } id, NewSessionId: not null } && asked.ContainsKey(id))
            .Select(l => (l.Head.NewSessionId!, asked[l.Head.Id!], l.At))];
    }

    /// <summary>
    /// The same record with each session id of this agent's lines (<c>params.sessionId</c>, a <c>session/new</c> answer's
    /// id) renamed as <paramref name="handles"/> says: the bridge names a session its agent's id, or <c>id#n</c> when an
    /// earlier agent of the run used that id, and the oracles compare the wire with the audit log and events by that name.
    /// </summary>
    public TapConnectionRecord WithSessionHandles(IReadOnlyDictionary<string, string> handles)
    {
        ArgumentNullException.ThrowIfNull(handles);
        string? Rename(string? id) => id is not null && handles.TryGetValue(id, out var handle) ? handle : id;
        TapStreamRecord Renamed(TapStreamRecord stream) => stream with
        {
            Lines = [.. stream.Lines.Select(l => l.Head.SessionId is null && l.Head.NewSessionId is null ? l
                : l with { Head = l.Head with { SessionId = Rename(l.Head.SessionId), NewSessionId = Rename(l.Head.NewSessionId) } })],
        };
        return this with { FromAgent = Renamed(FromAgent), ToAgent = Renamed(ToAgent) };
    }

    /// <summary>
    /// Pairs each request with the bridge's answers to it: every answer goes to the earliest request with its id that
    /// came before it and has none yet; an answer beyond that is a second one (to the latest such request).
    /// </summary>
    public IReadOnlyList<(TapLine Request, IReadOnlyList<TapLine> Answers)> AnswersByRequest()
    {
        var requests = Requests.ToList();
        var answers = requests.ToDictionary(r => r, _ => new List<TapLine>());
        var byId = requests.GroupBy(r => r.Head.Id!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var answer in Answers)
        {
            if (!byId.TryGetValue(answer.Head.Id!, out var sameId))
            {
                continue; // an answer to an id whose request the tap could not read (its id past the kept head)
            }

            var candidates = sameId.Where(r => r.At <= answer.At).ToList();
            if (candidates.Count == 0)
            {
                continue;
            }

            var owner = candidates.FirstOrDefault(r => answers[r].Count == 0) ?? candidates[^1];
            answers[owner].Add(answer);
        }

        return [.. requests.Select(r => (r, (IReadOnlyList<TapLine>)answers[r]))];
    }
}
