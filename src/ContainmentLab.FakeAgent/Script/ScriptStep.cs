using System.Text.Json;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// One step of a prompt turn. Each kind of step is its own sealed record; a new kind (crash, stall, hostile bytes…)
/// is a new record, a new entry in <see cref="FakeAgentScriptParser"/> and a new case in the engine's step switch.
/// </summary>
public abstract record ScriptStep
{
    /// <summary>Where the step was written; used in log lines.</summary>
    public ScriptLocation Location { get; init; }
}

/// <summary><c>say: text</c> — a <c>session/update</c> <c>agent_message_chunk</c>.</summary>
public sealed record SayStep(string Text) : ScriptStep;

/// <summary>
/// <c>tool: name</c> — one tool request, awaited before the next step. A name without '/' goes out as
/// <c>_containmentlab/tool</c>; a name with '/' is sent as that ACP method with <c>sessionId</c> added to the arguments.
/// </summary>
public sealed record ToolStep(string Name, JsonElement? Arguments, bool ReportToolCall = false) : ScriptStep;

/// <summary>A tool a storm picks from, with its relative weight.</summary>
public sealed record WeightedTool(string Name, double Weight);

/// <summary><c>storm:</c> — <see cref="Count"/> tool requests, at most <see cref="Concurrency"/> outstanding, pipelined.</summary>
public sealed record StormStep(
    int Count,
    int Concurrency,
    IReadOnlyList<WeightedTool> Tools,
    int Seed,
    Uri? HttpUrl = null,
    bool ReportToolCalls = false) : ScriptStep;

/// <summary><c>permission:</c> — a <c>session/request_permission</c> with allow_once / reject_once options.</summary>
public sealed record PermissionStep(string Title, string? Kind) : ScriptStep;

/// <summary><c>sleep: 200ms</c> — a pause on the engine's <see cref="TimeProvider"/>.</summary>
public sealed record SleepStep(TimeSpan Duration) : ScriptStep;

/// <summary><c>end: stop_reason</c> — answer the prompt now with this stop reason.</summary>
public sealed record EndStep(string StopReason) : ScriptStep;
