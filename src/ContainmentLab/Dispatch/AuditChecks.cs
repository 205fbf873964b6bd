namespace ContainmentLab.Dispatch;

/// <summary>The guarantees that can be read off an audit log, each returning the violations it found (empty = held).</summary>
public static class AuditChecks
{
    /// <summary>
    /// G1: no <c>dispatched</c> or <c>began</c> record of a session has a higher sequence number than that session's
    /// <c>interrupted</c> record; every <c>began</c> follows its call's <c>dispatched</c>, once.
    /// </summary>
    public static IReadOnlyList<string> NoDispatchAfterInterrupt(IReadOnlyList<AuditRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var interruptedAt = new Dictionary<string, long>(StringComparer.Ordinal);
        var dispatched = new HashSet<(string, string?, string?)>();
        var began = new HashSet<(string, string?, string?)>();
        var violations = new List<string>();
        foreach (var record in records.OrderBy(r => r.Seq))
        {
            if (record.SessionId is not { } session)
            {
                continue;
            }

            var key = (session, record.ToolCallId, record.RequestId);
            switch (record.Kind)
            {
                case AuditKind.Interrupted:
                    interruptedAt.TryAdd(session, record.Seq);
                    break;
                case AuditKind.Dispatched:
                    dispatched.Add(key);
                    if (interruptedAt.TryGetValue(session, out var at))
                    {
                        violations.Add($"G1: session '{session}' dispatched {record.Tool} ({record.ToolCallId}) at seq {record.Seq}, after its interrupt at seq {at}");
                    }

                    break;
                case AuditKind.Began:
                    if (interruptedAt.TryGetValue(session, out var since))
                    {
                        violations.Add($"G1: session '{session}' began the side effect of {record.Tool} ({record.ToolCallId}) at seq {record.Seq}, after its interrupt at seq {since}");
                    }

                    if (!dispatched.Contains(key))
                    {
                        violations.Add($"G1: {record.Tool} ({record.ToolCallId}) of session '{session}' began its side effect at seq {record.Seq} without a dispatched record before it");
                    }

                    if (!began.Add(key))
                    {
                        violations.Add($"G1: {record.Tool} ({record.ToolCallId}) of session '{session}' began its side effect a second time at seq {record.Seq}");
                    }

                    break;
            }
        }

        return violations;
    }

    /// <summary>
    /// G8: every tool call ends in exactly one terminal record, and every <c>dispatched</c> one is followed by its end.
    /// <c>began</c> is not terminal: it is ignored here (G1 checks it).
    /// </summary>
    public static IReadOnlyList<string> ExactlyOneTerminalRecord(IReadOnlyList<AuditRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var open = new Dictionary<(string?, string?, string?), AuditRecord>();
        var ended = new Dictionary<(string?, string?, string?), AuditRecord>();
        var violations = new List<string>();
        foreach (var record in records.OrderBy(r => r.Seq))
        {
            var key = (record.SessionId, record.ToolCallId, record.RequestId);
            if (record.Kind == AuditKind.Dispatched)
            {
                if (!open.TryAdd(key, record) || ended.ContainsKey(key))
                {
                    violations.Add($"G8: tool call {record.ToolCallId} of session '{record.SessionId}' dispatched twice (seq {record.Seq})");
                }
            }
            else if (record.Kind.IsTerminal())
            {
                if (!ended.TryAdd(key, record))
                {
                    violations.Add($"G8: tool call {record.ToolCallId} of session '{record.SessionId}' has a second terminal record '{record.Kind.WireName()}' at seq {record.Seq} (first at seq {ended[key].Seq})");
                }

                open.Remove(key);
            }
        }

        foreach (var (_, record) in open.OrderBy(o => o.Value.Seq))
        {
            violations.Add($"G8: tool call {record.ToolCallId} of session '{record.SessionId}' was dispatched at seq {record.Seq} and never ended");
        }

        return violations;
    }
}
