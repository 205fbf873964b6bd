using System.Globalization;
using System.Text.RegularExpressions;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.FakeAgent;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainmentLab.Scenarios;

/// <summary>One fixture file being read. Every method either returns a valid value or throws at the node's position.</summary>
internal sealed partial class FixtureParser
{
    private static readonly string[] s_agentKeys = ["script", "script_file", "command", "replay", "env"];
    private static readonly string[] s_agentKinds = ["script", "script_file", "command", "replay"];
    private static readonly string[] s_hostKeys = ["ack_timeout", "write_stall_timeout", "request_timeout", "shutdown_grace", "watchdog", "policies", "sandbox", "restart", "sweep"];
    private static readonly string[] s_watchdogKeys = ["enabled", "activity_window", "tool_timeout", "max_tool_duration"];
    private static readonly string[] s_policyKeys = ["read_only", "side_effect", "destructive", "per_tool", "confirm", "confirm_after"];
    private static readonly string[] s_restartKeys = ["budget", "initial_backoff"];
    private static readonly string[] s_sweepKeys = ["enabled", "sweep_at_start", "grace", "runtime_dir"];
    private static readonly string[] s_timelineKeys = ["prompt", "interrupt", "interrupt_all", "stop", "kill_host", "restart", "at", "after", "text", "repeat"];
    private static readonly string[] s_afterKeys = ["event", "session", "count", "timeout", "dispatched"];
    private static readonly string[] s_expectKeys = ["guarantees", "events", "turns", "within"];
    private static readonly string[] s_eventExpectKeys = ["name", "session", "count", "min", "max"];
    private static readonly string[] s_turnExpectKeys = ["end", "stop_reason", "turn"];
    private static readonly string[] s_withinKeys = ["from", "to", "session", "max"];
    private static readonly string[] s_turnEnds = ["completed", "cancelled", "escalated", "failed", "agent_exited", "refused"];
    private static readonly string[] s_policies = ["allow", "confirm", "dry_run", "deny"];
    private static readonly string[] s_confirmAnswers = ["allow", "deny", "never"];
    private static readonly string[] s_guarantees = ["G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9"];
    private static readonly TimeSpan s_defaultAfterTimeout = TimeSpan.FromSeconds(10);

    private readonly string _file;
    private readonly string _directory;
    private readonly string _text;

    public FixtureParser(string file, string text)
    {
        _file = file;
        _directory = Path.GetDirectoryName(Path.GetFullPath(file)) ?? Directory.GetCurrentDirectory();
        _text = text;
    }

    public Fixture Parse()
    {
        var stream = FixtureLoader.LoadYaml(_file, _text);
        if (stream.Documents.Count == 0)
        {
            throw new FixtureException(_file, 1, 1, "the fixture is empty; expected a mapping with name, description, agent, timeline, expect");
        }

        if (stream.Documents.Count > 1)
        {
            throw Error(stream.Documents[1].RootNode, "a fixture is one YAML document; found more than one");
        }

        var root = stream.Documents[0].RootNode;
        var keys = Keys(root, "the fixture", FixtureLoader.TopLevelKeys);
        var name = ReadString(Required(root, keys, "name", "the fixture"), "name");
        var description = ReadString(Required(root, keys, "description", "the fixture"), "description");
        var seed = keys.TryGetValue("seed", out var seedNode) ? ReadInt(seedNode, "seed", int.MinValue) : 0;
        var agent = ReadAgent(Required(root, keys, "agent", "the fixture"));
        var host = keys.TryGetValue("host", out var hostNode) ? ReadHost(hostNode) : new HostSpec();
        var sessions = keys.TryGetValue("sessions", out var sessionsNode) ? ReadSessions(sessionsNode) : ["s1"];
        var timeline = ReadTimeline(Required(root, keys, "timeline", "the fixture"), sessions);
        var known = sessions.Concat(timeline.Where(a => a.Kind == ActionKind.Restart).Select(a => a.Session!)).ToHashSet(StringComparer.Ordinal);
        var expect = keys.TryGetValue("expect", out var expectNode) ? ReadExpect(expectNode, known) : new FixtureExpectations();
        return new Fixture(Path.GetFullPath(_file), name, description, seed, agent, host, sessions, timeline, expect);
    }

    // ---- agent -------------------------------------------------------------------------------------------------

    private AgentSpec ReadAgent(YamlNode node)
    {
        var keys = Keys(node, "agent", s_agentKeys);
        var kinds = s_agentKinds.Where(keys.ContainsKey).ToList();
        if (kinds.Count != 1)
        {
            throw Error(kinds.Count == 0 ? node : keys[kinds[1]],
                $"agent needs exactly one of {string.Join(", ", s_agentKinds)}; found {(kinds.Count == 0 ? "none" : string.Join(" and ", kinds))}");
        }

        var env = keys.TryGetValue("env", out var envNode) ? ReadStringMap(envNode, "env") : new Dictionary<string, string>(StringComparer.Ordinal);
        var value = keys[kinds[0]];
        AgentSpec spec = kinds[0] switch
        {
            "script" => new AgentSpec(AgentKind.InlineScript, null, ReadInlineScript(value), []),
            "script_file" => ReadScriptFile(value),
            "command" => ReadCommand(value),
            _ => new AgentSpec(AgentKind.Replay, ExistingFile(value, "replay", "transcript"), null, []),
        };
        return spec with { Environment = env };
    }

    /// <summary>
    /// An inline fake-agent script keeps the fixture's positions in its errors: its text is cut out of the fixture
    /// (from the node's start to the end of the line of its last scalar) and preceded by as many empty lines and spaces as came before it, so
    /// line L, column C of the script text is line L, column C of the fixture. The fake agent's own parser then
    /// validates it and its <see cref="ScriptException"/> positions need no translation.
    /// </summary>
    private string ReadInlineScript(YamlNode node)
    {
        if (node is not YamlMappingNode)
        {
            throw Error(node, "agent.script must be a mapping (a fake-agent script: prompts, on_cancel, …; see fixtures/README.md)");
        }

        // A mapping node's End mark is its start (YamlDotNet); its text ends with the line of its last scalar, which
        // also takes in the closing brackets of a flow mapping.
        var start = OffsetOf(node.Start);
        var lastScalar = node.AllNodes.OfType<YamlScalarNode>().Select(n => OffsetOf(n.End)).DefaultIfEmpty(start).Max();
        var lineEnd = _text.IndexOf('\n', lastScalar);
        var end = lineEnd < 0 ? _text.Length : lineEnd;
        var text = string.Concat(new string('\n', checked((int)node.Start.Line) - 1), new string(' ', checked((int)node.Start.Column) - 1), _text[start..end], "\n");
        try
        {
            FakeAgentScript.Parse(text, _file);
        }
        catch (ScriptException ex)
        {
            throw new FixtureException(_file, checked((int)ex.Line), checked((int)ex.Column),  "in agent.script: " + ex.Problem, ex);
        }

        return text;
    }

    /// <summary>The character offset of a mark, from its line and column (the representation model's marks carry no usable index).</summary>
    private int OffsetOf(Mark mark)
    {
        var offset = 0;
        for (var line = 1; line < mark.Line && offset < _text.Length; line++)
        {
            var next = _text.IndexOf('\n', offset);
            offset = next < 0 ? _text.Length : next + 1;
        }

        return Math.Min(_text.Length, offset + checked((int)mark.Column) - 1);
    }

    private AgentSpec ReadScriptFile(YamlNode node)
    {
        var path = ExistingFile(node, "script_file", "fake-agent script");
        try
        {
            FakeAgentScript.Load(path);
        }
        catch (ScriptException ex)
        {
            throw new FixtureException(ex.ScriptSource, checked((int)ex.Line), checked((int)ex.Column), ex.Problem, ex);
        }

        return new AgentSpec(AgentKind.ScriptFile, path, null, []);
    }

    private AgentSpec ReadCommand(YamlNode node)
    {
        if (node is not YamlSequenceNode sequence || sequence.Children.Count == 0)
        {
            throw Error(node, "agent.command must be a non-empty list: the executable and its arguments");
        }

        var arguments = sequence.Children.Select(c => ReadString(c, "agent.command entry", allowEmpty: true)).ToList();
        return new AgentSpec(AgentKind.Command, null, null, arguments);
    }

    private string ExistingFile(YamlNode node, string key, string what)
    {
        var value = ReadString(node, key);
        var full = Path.GetFullPath(Path.Combine(_directory, value));
        return File.Exists(full) ? full : throw Error(node, $"{key}: {what} '{value}' not found (looked for {full})");
    }

    // ---- host --------------------------------------------------------------------------------------------------

    private HostSpec ReadHost(YamlNode node)
    {
        var keys = Keys(node, "host", s_hostKeys);
        var host = new HostSpec
        {
            AckTimeout = OptionalDuration(keys, "ack_timeout"),
            WriteStallTimeout = OptionalDuration(keys, "write_stall_timeout"),
            RequestTimeout = OptionalDuration(keys, "request_timeout"),
            ShutdownGrace = OptionalDuration(keys, "shutdown_grace"),
            Sandbox = keys.TryGetValue("sandbox", out var sandbox) ? Path.GetFullPath(Path.Combine(_directory, ReadString(sandbox, "sandbox"))) : null,
        };
        if (keys.TryGetValue("watchdog", out var watchdog))
        {
            var w = Keys(watchdog, "host.watchdog", s_watchdogKeys);
            host = host with
            {
                Watchdog = new WatchdogSpec
                {
                    Enabled = w.TryGetValue("enabled", out var enabled) ? ReadBool(enabled, "enabled") : null,
                    ActivityWindow = OptionalDuration(w, "activity_window"),
                    ToolTimeout = OptionalDuration(w, "tool_timeout"),
                    MaxToolDuration = OptionalDuration(w, "max_tool_duration"),
                },
            };
        }

        if (keys.TryGetValue("policies", out var policies))
        {
            host = host with { Policies = ReadPolicies(policies) };
        }

        if (keys.TryGetValue("restart", out var restart))
        {
            var r = Keys(restart, "host.restart", s_restartKeys);
            host = host with
            {
                RestartBudget = r.TryGetValue("budget", out var budget) ? ReadInt(budget, "budget", 0) : null,
                RestartBackoff = OptionalDuration(r, "initial_backoff"),
            };
        }

        if (keys.TryGetValue("sweep", out var sweep))
        {
            var s = Keys(sweep, "host.sweep", s_sweepKeys);
            host = host with
            {
                Sweep = new SweepSpec
                {
                    Enabled = s.TryGetValue("enabled", out var enabled) ? ReadBool(enabled, "enabled") : null,
                    SweepAtStart = s.TryGetValue("sweep_at_start", out var atStart) ? ReadBool(atStart, "sweep_at_start") : null,
                    Grace = OptionalDuration(s, "grace"),
                    RuntimeDirectory = s.TryGetValue("runtime_dir", out var dir) ? Path.GetFullPath(Path.Combine(_directory, ReadString(dir, "runtime_dir"))) : null,
                },
            };
        }

        return host;
    }

    private PolicySpec ReadPolicies(YamlNode node)
    {
        var keys = Keys(node, "host.policies", s_policyKeys);
        var perTool = new Dictionary<string, ToolPolicy>(StringComparer.Ordinal);
        if (keys.TryGetValue("per_tool", out var perToolNode))
        {
            foreach (var (key, value) in Entries(perToolNode, "host.policies.per_tool"))
            {
                perTool[ReadString(key, "tool name")] = ReadPolicy(value, "per_tool");
            }
        }

        return new PolicySpec
        {
            ReadOnly = keys.TryGetValue("read_only", out var ro) ? ReadPolicy(ro, "read_only") : null,
            SideEffect = keys.TryGetValue("side_effect", out var se) ? ReadPolicy(se, "side_effect") : null,
            Destructive = keys.TryGetValue("destructive", out var d) ? ReadPolicy(d, "destructive") : null,
            PerTool = perTool,
            Confirm = keys.TryGetValue("confirm", out var c) ? ReadWord(c, "confirm", s_confirmAnswers) switch
            {
                "allow" => ConfirmAnswer.Allow,
                "deny" => ConfirmAnswer.Deny,
                _ => ConfirmAnswer.Never,
            } : ConfirmAnswer.None,
            ConfirmAfter = OptionalDuration(keys, "confirm_after") ?? TimeSpan.Zero,
        };
    }

    private ToolPolicy ReadPolicy(YamlNode node, string what) => ReadWord(node, what, s_policies) switch
    {
        "allow" => ToolPolicy.Allow,
        "confirm" => ToolPolicy.Confirm,
        "dry_run" => ToolPolicy.DryRun,
        _ => ToolPolicy.Deny,
    };

    // ---- sessions and timeline ---------------------------------------------------------------------------------

    private List<string> ReadSessions(YamlNode node)
    {
        if (node is YamlScalarNode scalar && int.TryParse(scalar.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && scalar.Style == ScalarStyle.Plain)
        {
            return count is >= 1 and <= 64
                ? [.. Enumerable.Range(1, count).Select(i => $"s{i}")]
                : throw Error(node, $"sessions: {count} is out of range; expected 1 to 64 (or a list of names)");
        }

        if (node is not YamlSequenceNode sequence || sequence.Children.Count == 0)
        {
            throw Error(node, "sessions must be a number of sessions (s1, s2, …) or a non-empty list of session names");
        }

        var names = new List<string>();
        foreach (var child in sequence.Children)
        {
            var name = ReadSessionName(child);
            if (names.Contains(name, StringComparer.Ordinal))
            {
                throw Error(child, $"session '{name}' is listed twice");
            }

            names.Add(name);
        }

        return names;
    }

    private string ReadSessionName(YamlNode node)
    {
        var name = ReadString(node, "session name");
        return SessionNamePattern().IsMatch(name) ? name : throw Error(node, $"session name '{name}' must be letters, digits, '-' or '_'");
    }

    private List<TimelineAction> ReadTimeline(YamlNode node, IReadOnlyList<string> declared)
    {
        if (node is not YamlSequenceNode sequence)
        {
            throw Error(node, "timeline must be a list of actions (prompt, interrupt, interrupt_all, stop, kill_host, restart)");
        }

        var known = declared.ToHashSet(StringComparer.Ordinal);
        var actions = new List<TimelineAction>();
        foreach (var entry in sequence.Children)
        {
            var keys = Keys(entry, "a timeline entry", s_timelineKeys);
            var kinds = ActionNames.ByName.Keys.Where(keys.ContainsKey).ToList();
            if (kinds.Count != 1)
            {
                throw Error(kinds.Count == 0 ? entry : keys[kinds[1]],
                    $"a timeline entry needs exactly one action ({string.Join(", ", ActionNames.ByName.Keys)}); found {(kinds.Count == 0 ? "none" : string.Join(" and ", kinds))}");
            }

            if (actions.Any(a => a.Kind == ActionKind.KillHost))
            {
                throw Error(entry, $"{kinds[0]} after kill_host: nothing runs once the host is killed (the runner sweeps and judges then)");
            }

            var kind = ActionNames.ByName[kinds[0]];
            var value = keys[kinds[0]];
            string? session = null;
            switch (kind)
            {
                case ActionKind.Prompt or ActionKind.Interrupt:
                    session = ReadSessionName(value);
                    if (!known.Contains(session))
                    {
                        throw Error(value, $"{kinds[0]}: unknown session '{session}'; sessions are {string.Join(", ", known)} (restart: NAME adds one)");
                    }

                    break;
                case ActionKind.Restart:
                    session = ReadSessionName(value);
                    if (!known.Add(session))
                    {
                        throw Error(value, $"restart: session '{session}' already exists; restart creates a new session, name it anew");
                    }

                    break;
                default:
                    ReadFlag(value, kinds[0]);
                    break;
            }

            if (keys.ContainsKey("at") && keys.ContainsKey("after"))
            {
                throw Error(keys["after"], "a timeline entry has either at: (a time) or after: (an event), not both");
            }

            if ((keys.TryGetValue("text", out var textNode) || keys.TryGetValue("repeat", out textNode)) && kind != ActionKind.Prompt)
            {
                throw Error(textNode, $"only a prompt has a text (and repeat), not {kinds[0]}");
            }

            // repeat: N sends the text N times over: a prompt big enough to fill a pipe the agent stopped reading (G6).
            var text = keys.TryGetValue("text", out var t) ? ReadString(t, "text", allowEmpty: true) : "go";
            if (keys.TryGetValue("repeat", out var repeat))
            {
                var times = ReadInt(repeat, "repeat", 1);
                text = times <= 64 * 1024 * 1024 / Math.Max(1, text.Length) ? string.Concat(Enumerable.Repeat(text, times)) : throw Error(repeat, "repeat: the prompt would be over 64 MiB");
            }

            actions.Add(new TimelineAction(
                kind,
                session,
                text,
                OptionalDuration(keys, "at"),
                keys.TryGetValue("after", out var after) ? ReadCondition(after, known) : null,
                MarkOf(entry)));
        }

        return actions;
    }

    private void ReadFlag(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Value: null or "" or "true" or "~" or "null", Style: ScalarStyle.Plain })
        {
            return;
        }

        throw Error(node, $"{what} takes no value: write '{what}:' or '{what}: true'");
    }

    private EventCondition ReadCondition(YamlNode node, IReadOnlySet<string> sessions)
    {
        var keys = Keys(node, "after", s_afterKeys);
        var session = keys.TryGetValue("session", out var sessionNode) ? ReadKnownSession(sessionNode, sessions) : null;
        var timeout = OptionalDuration(keys, "timeout") ?? s_defaultAfterTimeout;
        if (keys.TryGetValue("dispatched", out var dispatched))
        {
            if (keys.TryGetValue("event", out var both))
            {
                throw Error(both, "after: has either dispatched: N or event: NAME, not both");
            }

            return new EventCondition("ToolDispatched", session, ReadInt(dispatched, "dispatched", 1), timeout, MarkOf(node));
        }

        var name = ReadEventName(Required(node, keys, "event", "after (or dispatched: N)"));
        var count = keys.TryGetValue("count", out var countNode) ? ReadInt(countNode, "count", 1) : 1;
        return new EventCondition(name, session, count, timeout, MarkOf(node));
    }

    // ---- expect ------------------------------------------------------------------------------------------------

    private FixtureExpectations ReadExpect(YamlNode node, IReadOnlySet<string> sessions)
    {
        var keys = Keys(node, "expect", s_expectKeys);
        var expect = new FixtureExpectations();
        if (keys.TryGetValue("guarantees", out var guarantees))
        {
            expect = expect with
            {
                Guarantees = [.. Sequence(guarantees, "expect.guarantees").Select(g => new GuaranteeExpectation(ReadWord(g, "a guarantee", s_guarantees), MarkOf(g)))],
            };
        }

        if (keys.TryGetValue("events", out var events))
        {
            expect = expect with { Events = [.. Sequence(events, "expect.events").Select(e => ReadEventExpectation(e, sessions))] };
        }

        if (keys.TryGetValue("turns", out var turns))
        {
            expect = expect with { Turns = [.. Entries(turns, "expect.turns").Select(e => ReadTurnExpectation(e.Key, e.Value, sessions))] };
        }

        if (keys.TryGetValue("within", out var within))
        {
            expect = expect with { Within = [.. Sequence(within, "expect.within").Select(w => ReadWithin(w, sessions))] };
        }

        return expect;
    }

    private EventExpectation ReadEventExpectation(YamlNode node, IReadOnlySet<string> sessions)
    {
        var keys = Keys(node, "an events expectation", s_eventExpectKeys);
        var name = ReadEventName(Required(node, keys, "name", "an events expectation"));
        var session = keys.TryGetValue("session", out var s) ? ReadKnownSession(s, sessions) : null;
        int? count = keys.TryGetValue("count", out var c) ? ReadInt(c, "count", 0) : null;
        int? min = keys.TryGetValue("min", out var lo) ? ReadInt(lo, "min", 0) : null;
        int? max = keys.TryGetValue("max", out var hi) ? ReadInt(hi, "max", 0) : null;
        if (count is not null && (min is not null || max is not null))
        {
            throw Error(c!, "an events expectation has either count: or min:/max:, not both");
        }

        if (min > max)
        {
            throw Error(lo!, $"min {min} is above max {max}");
        }

        return new EventExpectation(name, session, count is null && min is null && max is null ? null : count, min ?? (count is null && max is null ? 1 : null), max, MarkOf(node));
    }

    private TurnExpectation ReadTurnExpectation(YamlNode keyNode, YamlNode node, IReadOnlySet<string> sessions)
    {
        var session = ReadKnownSession(keyNode, sessions);
        if (node is YamlScalarNode)
        {
            var (end, refused) = ReadTurnEnd(node);
            return new TurnExpectation(session, end, refused, null, null, MarkOf(keyNode));
        }

        var keys = Keys(node, $"expect.turns.{session}", s_turnExpectKeys);
        TurnEnd? turnEnd = null;
        var isRefused = false;
        if (keys.TryGetValue("end", out var endNode))
        {
            (turnEnd, isRefused) = ReadTurnEnd(endNode);
        }

        return new TurnExpectation(
            session,
            turnEnd,
            isRefused,
            keys.TryGetValue("stop_reason", out var stop) ? ReadString(stop, "stop_reason") : null,
            keys.TryGetValue("turn", out var turn) ? ReadInt(turn, "turn", 1) : null,
            MarkOf(keyNode));
    }

    private (TurnEnd? End, bool Refused) ReadTurnEnd(YamlNode node) => ReadWord(node, "end", s_turnEnds) switch
    {
        "completed" => (TurnEnd.Completed, false),
        "cancelled" => (TurnEnd.Cancelled, false),
        "escalated" => (TurnEnd.Escalated, false),
        "failed" => (TurnEnd.Failed, false),
        "agent_exited" => (TurnEnd.AgentExited, false),
        _ => (null, true),
    };

    private WithinExpectation ReadWithin(YamlNode node, IReadOnlySet<string> sessions)
    {
        var keys = Keys(node, "a within expectation", s_withinKeys);
        var fromNode = Required(node, keys, "from", "a within expectation");
        var from = ReadString(fromNode, "from");
        if (!ActionNames.ByName.ContainsKey(from) && !FixtureLoader.EventNames.Contains(from))
        {
            throw Error(fromNode, $"from: '{from}' is neither an action ({string.Join(", ", ActionNames.ByName.Keys)}) nor an event ({string.Join(", ", FixtureLoader.EventNames.Order(StringComparer.Ordinal))})");
        }

        return new WithinExpectation(
            from,
            ReadEventName(Required(node, keys, "to", "a within expectation")),
            keys.TryGetValue("session", out var s) ? ReadKnownSession(s, sessions) : null,
            ReadDuration(Required(node, keys, "max", "a within expectation"), "max"),
            MarkOf(node));
    }

    // ---- values ------------------------------------------------------------------------------------------------

    private string ReadEventName(YamlNode node)
    {
        var name = ReadString(node, "event");
        return FixtureLoader.EventNames.Contains(name)
            ? name
            : throw Error(node, $"unknown event '{name}'; expected one of {string.Join(", ", FixtureLoader.EventNames.Order(StringComparer.Ordinal))}");
    }

    private string ReadKnownSession(YamlNode node, IReadOnlySet<string> sessions)
    {
        var name = ReadSessionName(node);
        return sessions.Contains(name) ? name : throw Error(node, $"unknown session '{name}'; sessions are {string.Join(", ", sessions)}");
    }

    private Dictionary<string, YamlNode> Keys(YamlNode node, string what, IReadOnlyList<string> allowed)
    {
        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in Entries(node, what))
        {
            var key = ReadString(keyNode, "a key");
            if (!allowed.Contains(key, StringComparer.Ordinal))
            {
                var hint = allowed.FirstOrDefault(a => Distance(a, key) <= 2) is { } near ? $" (did you mean '{near}'?)" : string.Empty;
                throw Error(keyNode, $"unknown key '{key}' in {what}{hint}; expected {string.Join(", ", allowed)}");
            }

            if (!result.TryAdd(key, value))
            {
                throw Error(keyNode, $"key '{key}' appears twice in {what}");
            }
        }

        return result;
    }

    private IEnumerable<KeyValuePair<YamlNode, YamlNode>> Entries(YamlNode node, string what) =>
        node is YamlMappingNode mapping ? mapping.Children : throw Error(node, $"{what} must be a mapping, not {Kind(node)}");

    private IEnumerable<YamlNode> Sequence(YamlNode node, string what) =>
        node is YamlSequenceNode sequence ? sequence.Children : throw Error(node, $"{what} must be a list, not {Kind(node)}");

    private YamlNode Required(YamlNode parent, Dictionary<string, YamlNode> keys, string key, string what) =>
        keys.TryGetValue(key, out var value) ? value : throw Error(parent, $"{what} needs '{key}'");

    private Dictionary<string, string> ReadStringMap(YamlNode node, string what) =>
        Entries(node, what).ToDictionary(e => ReadString(e.Key, "a name"), e => ReadString(e.Value, e.Key.ToString(), allowEmpty: true), StringComparer.Ordinal);

    private string ReadString(YamlNode node, string what, bool allowEmpty = false)
    {
        if (node is not YamlScalarNode scalar || (scalar.Style == ScalarStyle.Plain && scalar.Value is "~" or "null"))
        {
            throw Error(node, $"{what} must be a string, not {Kind(node)}");
        }

        var value = scalar.Value ?? string.Empty;
        return allowEmpty || value.Length > 0 ? value : throw Error(node, $"{what} must not be empty");
    }

    private string ReadWord(YamlNode node, string what, IReadOnlyList<string> words)
    {
        var value = ReadString(node, what);
        return words.Contains(value, StringComparer.Ordinal) ? value : throw Error(node, $"{what}: '{value}' is not one of {string.Join(", ", words)}");
    }

    private int ReadInt(YamlNode node, string what, int min)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain } scalar && int.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value >= min ? value : throw Error(node, $"{what} must be at least {min}, not {value}");
        }

        throw Error(node, $"{what} must be an integer, not {Kind(node)}");
    }

    private bool ReadBool(YamlNode node, string what) => node switch
    {
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" } => true,
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "false" } => false,
        _ => throw Error(node, $"{what} must be true or false, not {Kind(node)}"),
    };

    private TimeSpan ReadDuration(YamlNode node, string what)
    {
        var text = node is YamlScalarNode { Style: ScalarStyle.Plain } scalar ? scalar.Value ?? string.Empty : null;
        return text is not null && Durations.TryParse(text, out var duration)
            ? duration
            : throw Error(node, $"{what} must be a duration like 150ms, 2s, 1.5s, 1m, not {Kind(node)}");
    }

    private TimeSpan? OptionalDuration(Dictionary<string, YamlNode> keys, string key) =>
        keys.TryGetValue(key, out var node) ? ReadDuration(node, key) : null;

    private static string Kind(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" } => "null",
        YamlScalarNode s => $"'{s.Value}'",
        _ => "an alias",
    };

    private SourceMark MarkOf(YamlNode node) => new(_file, node.Start.Line, node.Start.Column);

    private FixtureException Error(YamlNode node, string problem) => FixtureLoader.Error(_file, node.Start, problem);

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }

        return row[b.Length];
    }

    [GeneratedRegex("^[A-Za-z0-9_-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex SessionNamePattern();
}
