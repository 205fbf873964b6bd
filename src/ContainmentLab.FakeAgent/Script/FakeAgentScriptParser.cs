using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ContainmentLab.Protocol;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// Turns script YAML into a <see cref="FakeAgentScript"/>. It walks YamlDotNet's representation model rather than
/// deserializing into classes so that every complaint (unknown key, wrong type, bad value) can point at the node's
/// line and column.
/// </summary>
internal sealed partial class FakeAgentScriptParser
{
    private delegate ScriptStep StepReader(FakeAgentScriptParser parser, YamlNode value, YamlMappingNode step);

    /// <summary>A step kind: its key, the other keys it may carry, and how to read it. Add a row to add a step kind.</summary>
    private sealed record StepKind(string Key, string[] ExtraKeys, StepReader Read);

    private static readonly string[] s_endStopReasons =
        [StopReasons.EndTurn, StopReasons.Cancelled, StopReasons.MaxTokens, StopReasons.MaxTurnRequests, StopReasons.Refusal];

    private static readonly StepKind[] s_stepKinds =
    [
        new("say", ["session"], static (p, v, s) => new SayStep(p.ReadString(v, "say"), p.ReadSessionOption(s))),
        new("tool", ["arguments", "report_tool_calls", "session"], static (p, v, s) => p.ReadTool(v, s)),
        new("storm", [], static (p, v, _) => p.ReadStorm(v)),
        new("permission", ["session", "self_answer"], static (p, v, s) => p.ReadPermission(v, s)),
        new("sleep", [], static (p, v, _) => new SleepStep(p.ReadDuration(v, "sleep"))),
        new("end", ["repeat"], static (p, v, s) => p.ReadEnd(v, s)),
        new("agent_tool", [], static (p, v, _) => p.ReadAgentTool(v)),
        new("stall", [], static (p, v, _) => new StallStep(p.ReadDurationOrForever(v, "stall"))),
        new("stop_reading", [], static (p, v, _) => new StopReadingStep(p.ReadDurationOrForever(v, "stop_reading"))),
        new("crash", [], static (p, v, s) => new CrashStep(p.ReadExit(v, "crash", [], out _))),
        new("close_stdout", [], static (p, v, _) => p.ReadCloseStdout(v)),
        new("spawn", [], static (p, v, _) => p.ReadSpawn(v)),
        new("raw", [], static (p, v, _) => p.ReadRaw(v)),
    ];

    private static readonly string[] s_scriptKeys = ["name", "on_cancel", "prompts", "session_prompts", "initialize", "session_new", "exit_during_startup"];

    private static readonly string[] s_ackStopReasons = [StopReasons.Cancelled, StopReasons.EndTurn];

    private static readonly string[] s_permissionOptionIds = ["allow", "reject"];

    private static readonly string[] s_permissionKinds = ["read", "edit", "delete", "move", "search", "execute", "think", "fetch", "other"];

    private readonly string _source;

    public FakeAgentScriptParser(string source) => _source = source;

    public FakeAgentScript Parse(string yamlText)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yamlText));
        }
        catch (YamlException ex)
        {
            throw new ScriptException(_source, ex.Start.Line, ex.Start.Column, "not valid YAML: " + ex.Message, ex);
        }

        if (stream.Documents.Count == 0)
        {
            throw new ScriptException(_source, 1, 1, "the script is empty; expected a mapping with 'prompts'");
        }

        if (stream.Documents.Count > 1)
        {
            throw Error(stream.Documents[1].RootNode, "a script is one YAML document; found more than one");
        }

        var root = AsMapping(stream.Documents[0].RootNode, "the script");
        string? name = null;
        var onCancel = CancelBehaviour.Honour;
        IReadOnlyList<PromptScript> prompts = [];
        Dictionary<string, IReadOnlyList<PromptScript>> sessionPrompts = new(StringComparer.Ordinal);
        ScriptedError? initializeError = null;
        ScriptedError? sessionNewError = null;
        StartupExit? startupExit = null;
        foreach (var (key, value) in Entries(root, "the script", s_scriptKeys))
        {
            switch (key)
            {
                case "name":
                    name = ReadString(value, "name");
                    break;
                case "on_cancel":
                    onCancel = ReadOnCancel(value);
                    break;
                case "prompts":
                    prompts = AsSequence(value, "prompts").Children.Select(ReadPrompt).ToArray();
                    break;
                case "session_prompts":
                    sessionPrompts = ReadSessionPrompts(value);
                    break;
                case "initialize":
                    initializeError = ReadRequestBehaviour(value, "initialize");
                    break;
                case "session_new":
                    sessionNewError = ReadRequestBehaviour(value, "session_new");
                    break;
                case "exit_during_startup":
                    var exit = ReadExit(value, "exit_during_startup", ["after"], out var extras);
                    startupExit = new StartupExit(exit, extras.TryGetValue("after", out var after) ? ReadDuration(after, "after") : null);
                    break;
            }
        }

        return new FakeAgentScript(name, onCancel, prompts)
        {
            InitializeError = initializeError,
            SessionNewError = sessionNewError,
            ExitDuringStartup = startupExit,
            SessionPrompts = sessionPrompts,
        };
    }

    /// <summary><c>session_prompts: {sess-2: [prompts]}</c>: per-session prompt lists, each like <c>prompts</c>.</summary>
    private Dictionary<string, IReadOnlyList<PromptScript>> ReadSessionPrompts(YamlNode node)
    {
        var result = new Dictionary<string, IReadOnlyList<PromptScript>>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in AsMapping(node, "session_prompts").Children)
        {
            var id = ReadString(keyNode, "a session id");
            if (!result.TryAdd(id, AsSequence(value, $"session_prompts of '{id}'").Children.Select(ReadPrompt).ToArray()))
            {
                throw Error(keyNode, $"session_prompts names '{id}' twice");
            }
        }

        return result;
    }

    /// <summary><c>{error: {code, message}}</c>: how the agent answers initialize or session/new.</summary>
    private ScriptedError ReadRequestBehaviour(YamlNode node, string what)
    {
        var mapping = AsMapping(node, what);
        ScriptedError? error = null;
        foreach (var (_, value) in Entries(mapping, what, ["error"]))
        {
            var errorMapping = AsMapping(value, "error");
            int? code = null;
            var message = "scripted failure";
            foreach (var (key, item) in Entries(errorMapping, "error", ["code", "message"]))
            {
                if (key == "code")
                {
                    code = ReadInt(item, "code", int.MinValue, int.MaxValue);
                }
                else
                {
                    message = ReadString(item, "message");
                }
            }

            error = new ScriptedError(code ?? throw Error(value, "error needs 'code'"), message);
        }

        return error ?? throw Error(node, $"{what} needs 'error: {{ code: N, message: TEXT }}'");
    }

    /// <summary>
    /// <c>{exit_code: N}</c> or <c>{signal: NAME}</c>, exactly one, plus the <paramref name="extraKeys"/> (returned
    /// unread in <paramref name="extras"/>).
    /// </summary>
    private ExitRequest ReadExit(YamlNode node, string what, string[] extraKeys, out Dictionary<string, YamlNode> extras)
    {
        var mapping = AsMapping(node, what);
        extras = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        ExitRequest? exit = null;
        string? first = null;
        foreach (var (key, value) in Entries(mapping, what, ["exit_code", "signal", .. extraKeys]))
        {
            if (key is not ("exit_code" or "signal"))
            {
                extras[key] = value;
                continue;
            }

            if (first is not null)
            {
                throw Error(value, $"{what} takes exit_code or signal, not both");
            }

            first = key;
            if (key == "exit_code")
            {
                exit = ExitRequest.WithCode(ReadInt(value, "exit_code", 0, 255));
            }
            else
            {
                var signal = ReadString(value, "signal");
                exit = ExitRequest.SignalNames.Contains(signal)
                    ? ExitRequest.WithSignal(signal)
                    : throw Error(value, $"signal must be one of {string.Join(", ", ExitRequest.SignalNames)}; got '{signal}'");
            }
        }

        return exit ?? throw Error(node, $"{what} needs 'exit_code: N' or 'signal: NAME'");
    }

    private AgentToolStep ReadAgentTool(YamlNode node)
    {
        var mapping = AsMapping(node, "agent_tool");
        string? title = null;
        var kind = "other";
        TimeSpan? duration = null;
        TimeSpan? heartbeat = null;
        var hasDuration = false;
        foreach (var (key, value) in Entries(mapping, "agent_tool", ["title", "kind", "duration", "heartbeat"]))
        {
            switch (key)
            {
                case "title":
                    title = ReadString(value, "title");
                    break;
                case "kind":
                    kind = ReadString(value, "kind");
                    if (!s_permissionKinds.Contains(kind))
                    {
                        throw Error(value, $"agent_tool kind must be one of {string.Join(", ", s_permissionKinds)}; got '{kind}'");
                    }

                    break;
                case "duration":
                    duration = ReadDurationOrForever(value, "duration");
                    hasDuration = true;
                    break;
                case "heartbeat":
                    heartbeat = IsWord(value, "none") ? null : ReadDuration(value, "heartbeat", "none");
                    if (heartbeat == TimeSpan.Zero)
                    {
                        throw Error(value, "heartbeat must be longer than 0 (or none)");
                    }

                    break;
            }
        }

        if (title is null)
        {
            throw Error(node, "agent_tool needs 'title'");
        }

        return hasDuration ? new AgentToolStep(title, kind, duration, heartbeat) : throw Error(node, "agent_tool needs 'duration' (a duration or forever)");
    }

    private CloseStdoutStep ReadCloseStdout(YamlNode node)
    {
        var then = AfterCloseStdout.Hang;
        foreach (var (_, value) in Entries(AsMapping(node, "close_stdout"), "close_stdout", ["then"]))
        {
            then = ReadString(value, "then") switch
            {
                "hang" => AfterCloseStdout.Hang,
                "read" => AfterCloseStdout.Read,
                var other => throw Error(value, $"then must be hang or read; got '{other}'"),
            };
        }

        return new CloseStdoutStep(then);
    }

    private SpawnStep ReadSpawn(YamlNode node)
    {
        var depth = 1;
        var ignoreSigterm = false;
        foreach (var (key, value) in Entries(AsMapping(node, "spawn"), "spawn", ["depth", "ignore_sigterm"]))
        {
            if (key == "depth")
            {
                depth = ReadInt(value, "depth", 1, 8);
            }
            else
            {
                ignoreSigterm = ReadBool(value, "ignore_sigterm");
            }
        }

        return new SpawnStep(depth, ignoreSigterm);
    }

    /// <summary><c>raw: TEXT</c> or <c>raw: { text | hex | fill, newline, repeat }</c>: bytes written as they are (hostile input).</summary>
    private RawStep ReadRaw(YamlNode node)
    {
        if (node is YamlScalarNode)
        {
            return new RawStep(System.Text.Encoding.UTF8.GetBytes(ReadString(node, "raw")), true, 1);
        }

        byte[]? bytes = null;
        var newline = true;
        var repeat = 1;
        foreach (var (key, value) in Entries(AsMapping(node, "raw"), "raw", ["text", "hex", "fill", "newline", "repeat"]))
        {
            switch (key)
            {
                case "text":
                    bytes = System.Text.Encoding.UTF8.GetBytes(ReadString(value, "text"));
                    break;
                case "hex":
                    try
                    {
                        bytes = Convert.FromHexString(ReadString(value, "hex").Replace(" ", string.Empty, StringComparison.Ordinal));
                    }
                    catch (FormatException)
                    {
                        throw Error(value, "hex: expected pairs of hexadecimal digits, e.g. \"c328 ff\"");
                    }

                    break;
                case "fill":
                    bytes = new byte[ReadInt(value, "fill", 1, 256 * 1024 * 1024)];
                    bytes.AsSpan().Fill((byte)'x');
                    break;
                case "newline":
                    newline = ReadBool(value, "newline");
                    break;
                default:
                    repeat = ReadInt(value, "repeat", 1, 1_000_000);
                    break;
            }
        }

        return new RawStep(bytes ?? throw Error(node, "raw needs one of text, hex or fill"), newline, repeat);
    }

    private static bool IsWord(YamlNode node, string word) => node is YamlScalarNode { Style: ScalarStyle.Plain } scalar && scalar.Value == word;

    /// <summary>A duration, or null for <c>forever</c>.</summary>
    private TimeSpan? ReadDurationOrForever(YamlNode node, string what) =>
        IsWord(node, "forever") ? null : ReadDuration(node, what, "forever");

    private CancelBehaviour ReadOnCancel(YamlNode node)
    {
        if (node is YamlScalarNode scalar)
        {
            return scalar.Value switch
            {
                "honour" or "honor" => CancelBehaviour.Honour,
                "ignore" => CancelBehaviour.Ignore,
                "hang" => CancelBehaviour.Hang,
                "ack_and_continue" => CancelBehaviour.AckAndContinue,
                _ => throw Error(node, $"on_cancel must be honour, ignore, hang, ack_and_continue or {{ ack_after: DURATION }}; got '{scalar.Value}'"),
            };
        }

        var mapping = AsMapping(node, "on_cancel");
        TimeSpan? delay = null;
        var stopReason = StopReasons.Cancelled;
        foreach (var (key, value) in Entries(mapping, "on_cancel", ["ack_after", "stop_reason"]))
        {
            if (key == "ack_after")
            {
                delay = ReadDuration(value, "ack_after");
            }
            else
            {
                stopReason = ReadStopReason(value, "stop_reason", s_ackStopReasons);
            }
        }

        return delay is { } d ? CancelBehaviour.AckAfter(d, stopReason) : throw Error(node, "on_cancel needs 'ack_after: DURATION'");
    }

    private PromptScript ReadPrompt(YamlNode node)
    {
        var mapping = AsMapping(node, "a prompt");
        IReadOnlyList<ScriptStep> steps = [];
        foreach (var (_, value) in Entries(mapping, "a prompt", ["steps"]))
        {
            steps = AsSequence(value, "steps").Children.Select(ReadStep).ToArray();
        }

        return new PromptScript(steps);
    }

    private ScriptStep ReadStep(YamlNode node)
    {
        var mapping = AsMapping(node, "a step");
        StepKind? kind = null;
        YamlNode? kindValue = null;
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = KeyText(keyNode);
            if (s_stepKinds.FirstOrDefault(k => k.Key == key) is { } found)
            {
                if (kind is not null)
                {
                    throw Error(keyNode, $"a step has one kind; this one has both '{kind.Key}' and '{key}'");
                }

                kind = found;
                kindValue = value;
            }
        }

        if (kind is null || kindValue is null)
        {
            var first = mapping.Children.Count > 0 ? mapping.Children.First().Key : node;
            throw Error(first, $"unknown step{(first is YamlScalarNode s ? $" '{s.Value}'" : string.Empty)}; expected one of {string.Join(", ", s_stepKinds.Select(k => k.Key))}");
        }

        foreach (var keyNode in mapping.Children.Keys)
        {
            var key = KeyText(keyNode);
            if (key != kind.Key && !kind.ExtraKeys.Contains(key))
            {
                var allowed = kind.ExtraKeys.Length == 0 ? "it takes no other keys" : "expected " + string.Join(", ", kind.ExtraKeys);
                throw Error(keyNode, $"unknown key '{key}' in a {kind.Key} step; {allowed}");
            }
        }

        return kind.Read(this, kindValue, mapping) with { Location = Location(node) };
    }

    private ToolStep ReadTool(YamlNode value, YamlMappingNode step)
    {
        var name = ReadToolName(value, "tool");
        JsonElement? arguments = null;
        var report = false;
        foreach (var (keyNode, argNode) in step.Children)
        {
            switch (KeyText(keyNode))
            {
                case "arguments":
                    arguments = ToJson(AsMapping(argNode, "arguments"));
                    break;
                case "report_tool_calls":
                    report = ReadBool(argNode, "report_tool_calls");
                    break;
            }
        }

        return new ToolStep(name, arguments, report, ReadSessionOption(step));
    }

    /// <summary>The hostile <c>session: ID</c> key next to a step: the session id the step's message names instead of its own.</summary>
    private string? ReadSessionOption(YamlMappingNode step)
    {
        foreach (var (keyNode, value) in step.Children)
        {
            if (KeyText(keyNode) == "session")
            {
                var id = ReadString(value, "session");
                return id.Length > 0 ? id : throw Error(value, "session must be a non-empty session id");
            }
        }

        return null;
    }

    /// <summary><c>end: STOP_REASON</c>, with an optional <c>repeat: N</c> next to it (the prompt answered N times).</summary>
    private EndStep ReadEnd(YamlNode value, YamlMappingNode step)
    {
        var stopReason = ReadStopReason(value, "end", s_endStopReasons);
        var repeat = 1;
        foreach (var (keyNode, item) in step.Children)
        {
            if (KeyText(keyNode) == "repeat")
            {
                repeat = ReadInt(item, "repeat", 1, 100);
            }
        }

        return new EndStep(stopReason, repeat);
    }

    private StormStep ReadStorm(YamlNode node)
    {
        var mapping = AsMapping(node, "storm");
        int? count = null;
        var concurrency = 1;
        var seed = 0;
        Uri? httpUrl = null;
        var report = false;
        IReadOnlyList<WeightedTool>? tools = null;
        YamlNode? toolsNode = null;
        foreach (var (key, value) in Entries(mapping, "storm", ["count", "concurrency", "tools", "seed", "http_url", "report_tool_calls"]))
        {
            switch (key)
            {
                case "count":
                    count = ReadInt(value, "count", 0, 10_000_000);
                    break;
                case "concurrency":
                    concurrency = ReadInt(value, "concurrency", 1, 100_000);
                    break;
                case "seed":
                    seed = ReadInt(value, "seed", int.MinValue, int.MaxValue);
                    break;
                case "http_url":
                    var text = ReadString(value, "http_url");
                    if (!Uri.TryCreate(text, UriKind.Absolute, out httpUrl) || (httpUrl.Scheme != Uri.UriSchemeHttp && httpUrl.Scheme != Uri.UriSchemeHttps))
                    {
                        throw Error(value, $"http_url must be an absolute http(s) URL; got '{text}'");
                    }

                    break;
                case "report_tool_calls":
                    report = ReadBool(value, "report_tool_calls");
                    break;
                case "tools":
                    toolsNode = value;
                    tools = ReadStormTools(value);
                    break;
            }
        }

        if (count is null)
        {
            throw Error(node, "storm needs 'count'");
        }

        if (tools is null || toolsNode is null)
        {
            throw Error(node, "storm needs 'tools' (a list of names, or a map name → weight)");
        }

        if (httpUrl is null && tools.Any(t => t.Name == StormArguments.HttpTool))
        {
            throw Error(toolsNode, $"storm uses {StormArguments.HttpTool}, which needs 'http_url'");
        }

        return new StormStep(count.Value, concurrency, tools, seed, httpUrl, report);
    }

    private WeightedTool[] ReadStormTools(YamlNode node)
    {
        WeightedTool[] tools;
        if (node is YamlSequenceNode sequence)
        {
            tools = sequence.Children.Select(n => new WeightedTool(ReadToolName(n, "a storm tool"), 1)).ToArray();
        }
        else if (node is YamlMappingNode mapping)
        {
            tools = mapping.Children.Select(e => new WeightedTool(ReadToolName(e.Key, "a storm tool"), ReadWeight(e.Value))).ToArray();
        }
        else
        {
            throw Error(node, "storm tools must be a list of names, or a map name → weight");
        }

        if (tools.Length == 0)
        {
            throw Error(node, "storm tools must name at least one tool");
        }

        return tools;
    }

    private double ReadWeight(YamlNode node)
    {
        var scalar = AsScalar(node, "a tool weight");
        if (!double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight) || !double.IsFinite(weight) || weight <= 0)
        {
            throw Error(node, $"a tool weight must be a positive number; got '{scalar.Value}'");
        }

        return weight;
    }

    private PermissionStep ReadPermission(YamlNode node, YamlMappingNode step)
    {
        var session = ReadSessionOption(step);
        string? selfAnswer = null;
        foreach (var (keyNode, value) in step.Children)
        {
            if (KeyText(keyNode) == "self_answer")
            {
                selfAnswer = ReadString(value, "self_answer");
                if (!s_permissionOptionIds.Contains(selfAnswer))
                {
                    throw Error(value, $"self_answer must be one of {string.Join(", ", s_permissionOptionIds)}; got '{selfAnswer}'");
                }
            }
        }

        if (node is YamlScalarNode)
        {
            return new PermissionStep(ReadString(node, "permission"), null, session, selfAnswer);
        }

        var mapping = AsMapping(node, "permission");
        string? title = null;
        string? kind = null;
        foreach (var (key, value) in Entries(mapping, "permission", ["title", "kind"]))
        {
            if (key == "title")
            {
                title = ReadString(value, "title");
            }
            else
            {
                kind = ReadString(value, "kind");
                if (!s_permissionKinds.Contains(kind))
                {
                    throw Error(value, $"permission kind must be one of {string.Join(", ", s_permissionKinds)}; got '{kind}'");
                }
            }
        }

        return new PermissionStep(title ?? throw Error(node, "permission needs 'title'"), kind, session, selfAnswer);
    }

    private string ReadToolName(YamlNode node, string what)
    {
        var name = ReadString(node, what);
        if (name.Length == 0 || name.Any(char.IsWhiteSpace))
        {
            throw Error(node, $"{what} must be a tool name without spaces; got '{name}'");
        }

        return name;
    }

    private string ReadStopReason(YamlNode node, string what, string[] allowed)
    {
        var text = ReadString(node, what);
        return allowed.Contains(text) ? text : throw Error(node, $"{what} must be one of {string.Join(", ", allowed)}; got '{text}'");
    }

    private TimeSpan ReadDuration(YamlNode node, string what, string? orWord = null)
    {
        var text = AsScalar(node, what).Value ?? string.Empty;
        var match = DurationPattern().Match(text);
        if (!match.Success)
        {
            var alternative = orWord is null ? string.Empty : $" (or {orWord})";
            throw Error(node, $"{what} must be a duration such as 150ms, 2s, 1.5s or 1m{alternative}; got '{text}'");
        }

        var amount = decimal.Parse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        var milliseconds = match.Groups[2].Value switch
        {
            "ms" => amount,
            "s" => amount * 1000,
            "m" => amount * 60_000,
            _ => amount * 3_600_000,
        };
        if (milliseconds > 24m * 3_600_000)
        {
            throw Error(node, $"{what} must be at most 24h; got '{text}'");
        }

        return TimeSpan.FromTicks((long)(milliseconds * TimeSpan.TicksPerMillisecond));
    }

    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    private int ReadInt(YamlNode node, string what, int min, int max)
    {
        var scalar = AsScalar(node, what);
        if (scalar.Style != ScalarStyle.Plain || !long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw Error(node, $"{what} must be an integer; got '{scalar.Value}'");
        }

        if (value < min || value > max)
        {
            throw Error(node, $"{what} must be between {min} and {max}; got {value}");
        }

        return (int)value;
    }

    private bool ReadBool(YamlNode node, string what)
    {
        var scalar = AsScalar(node, what);
        return scalar.Style == ScalarStyle.Plain && scalar.Value is "true" or "false"
            ? scalar.Value == "true"
            : throw Error(node, $"{what} must be true or false; got '{scalar.Value}'");
    }

    private string ReadString(YamlNode node, string what)
    {
        var scalar = AsScalar(node, what);
        if (scalar.Style == ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null")
        {
            throw Error(node, $"{what} must be a string; got nothing");
        }

        return scalar.Value ?? string.Empty;
    }

    private YamlScalarNode AsScalar(YamlNode node, string what) =>
        node as YamlScalarNode ?? throw Error(node, $"{what} must be a single value; got a {Describe(node)}");

    private YamlMappingNode AsMapping(YamlNode node, string what) =>
        node as YamlMappingNode ?? throw Error(node, $"{what} must be a mapping; got {DescribeWithValue(node)}");

    private YamlSequenceNode AsSequence(YamlNode node, string what) =>
        node as YamlSequenceNode ?? throw Error(node, $"{what} must be a list; got {DescribeWithValue(node)}");

    /// <summary>The entries of a mapping as (key text, value), rejecting any key not in <paramref name="allowed"/>.</summary>
    private IEnumerable<(string Key, YamlNode Value)> Entries(YamlMappingNode mapping, string what, string[] allowed)
    {
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = KeyText(keyNode);
            if (!allowed.Contains(key))
            {
                throw Error(keyNode, $"unknown key '{key}' in {what}; expected {string.Join(", ", allowed)}");
            }

            yield return (key, value);
        }
    }

    private string KeyText(YamlNode keyNode) =>
        keyNode is YamlScalarNode { Value: { } text } ? text : throw Error(keyNode, "a key must be a plain name");

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "mapping",
        YamlSequenceNode => "list",
        _ => "value",
    };

    private static string DescribeWithValue(YamlNode node) =>
        node is YamlScalarNode scalar ? $"'{scalar.Value}'" : "a " + Describe(node);

    private ScriptLocation Location(YamlNode node) => new(_source, node.Start.Line, node.Start.Column);

    private ScriptException Error(YamlNode node, string problem) => new(_source, node.Start.Line, node.Start.Column, problem);

    /// <summary>YAML → JSON for tool arguments. Plain scalars follow the YAML 1.2 core schema (null, booleans, numbers); quoted ones stay strings.</summary>
    private JsonElement ToJson(YamlNode node)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer, node, 0);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private void WriteJson(Utf8JsonWriter writer, YamlNode node, int depth)
    {
        if (depth > 32)
        {
            throw Error(node, "arguments are nested too deeply");
        }

        switch (node)
        {
            case YamlMappingNode mapping:
                writer.WriteStartObject();
                foreach (var (key, value) in mapping.Children)
                {
                    writer.WritePropertyName(KeyText(key));
                    WriteJson(writer, value, depth + 1);
                }

                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children)
                {
                    WriteJson(writer, item, depth + 1);
                }

                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                WriteScalar(writer, scalar);
                break;
            default:
                throw Error(node, "unsupported YAML node in arguments");
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style != ScalarStyle.Plain)
        {
            writer.WriteStringValue(text);
        }
        else if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            writer.WriteNullValue();
        }
        else if (text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
        {
            writer.WriteBooleanValue(text[0] is 't' or 'T');
        }
        else if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            writer.WriteNumberValue(integer);
        }
        else if (NumberPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
        {
            writer.WriteNumberValue(real);
        }
        else
        {
            writer.WriteStringValue(text);
        }
    }

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex NumberPattern();
}
