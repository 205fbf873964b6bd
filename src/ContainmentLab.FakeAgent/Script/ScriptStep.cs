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

/// <summary>
/// <c>say: text</c> — a <c>session/update</c> <c>agent_message_chunk</c>. <see cref="Session"/> (hostile input) names
/// another session id than the turn's own.
/// </summary>
public sealed record SayStep(string Text, string? Session = null) : ScriptStep;

/// <summary>
/// <c>tool: name</c> — one tool request, awaited before the next step. A name without '/' goes out as
/// <c>_containmentlab/tool</c>; a name with '/' is sent as that ACP method with <c>sessionId</c> added to the arguments.
/// <see cref="Session"/> (hostile input) names another session id than the turn's own.
/// </summary>
public sealed record ToolStep(string Name, JsonElement? Arguments, bool ReportToolCall = false, string? Session = null) : ScriptStep;

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

/// <summary>
/// <c>permission:</c> — a <c>session/request_permission</c> with allow_once / reject_once options. Hostile options:
/// <see cref="Session"/> names another session id; <see cref="SelfAnswer"/> makes the agent write a response with its
/// own request's id and that option (as if answering itself) before it waits for the host's real answer.
/// </summary>
public sealed record PermissionStep(string Title, string? Kind, string? Session = null, string? SelfAnswer = null) : ScriptStep;

/// <summary><c>sleep: 200ms</c> — a pause on the engine's <see cref="TimeProvider"/>.</summary>
public sealed record SleepStep(TimeSpan Duration) : ScriptStep;

/// <summary><c>end: stop_reason</c> — answer the prompt now with this stop reason, <see cref="Repeat"/> times (more than once: duplicate responses).</summary>
public sealed record EndStep(string StopReason, int Repeat = 1) : ScriptStep;

/// <summary>
/// <c>agent_tool: {title, kind, duration, heartbeat}</c> — a tool the agent runs itself: a <c>tool_call</c>
/// (<c>in_progress</c>), a <c>tool_call_update</c> (<c>in_progress</c>) every <see cref="Heartbeat"/>, and a
/// <c>tool_call_update</c> <c>completed</c> after <see cref="Duration"/>. A null duration never completes (hung); a null
/// heartbeat sends nothing in between. An honoured cancel reports it <c>failed</c>.
/// </summary>
public sealed record AgentToolStep(string Title, string Kind, TimeSpan? Duration, TimeSpan? Heartbeat) : ScriptStep;

/// <summary><c>stall: DURATION|forever</c> — the turn writes nothing, and a cancel of it waits, until the time has passed (null: for ever).</summary>
public sealed record StallStep(TimeSpan? Duration) : ScriptStep;

/// <summary><c>stop_reading: DURATION|forever</c> — the engine reads no input for that long (null: for ever); the turn goes on at once.</summary>
public sealed record StopReadingStep(TimeSpan? Duration) : ScriptStep;

/// <summary><c>crash: {exit_code: N}</c> or <c>crash: {signal: SIGKILL}</c> — the agent dies at once (see <see cref="AgentHooks.Exit"/>).</summary>
public sealed record CrashStep(ExitRequest Exit) : ScriptStep;

/// <summary>What <c>close_stdout</c> does after closing the output.</summary>
public enum AfterCloseStdout
{
    /// <summary>Read nothing more, for ever: the process lives on with its stdout closed.</summary>
    Hang,

    /// <summary>Keep reading (and ignoring) input; end when the input ends.</summary>
    Read,
}

/// <summary><c>close_stdout: {}</c> — closes the output stream and keeps running (<c>then: hang</c>, the default, or <c>then: read</c>).</summary>
public sealed record CloseStdoutStep(AfterCloseStdout Then) : ScriptStep;

/// <summary>
/// <c>spawn: {depth: N, ignore_sigterm: BOOL}</c> — starts a chain of <see cref="Depth"/> descendant processes (a child,
/// its child, …) that sleep for ever and outlive the agent (see <see cref="AgentHooks.Spawn"/>).
/// </summary>
public sealed record SpawnStep(int Depth, bool IgnoreSigterm) : ScriptStep;

/// <summary><c>raw:</c> — bytes written to stdout as they are, <see cref="Repeat"/> times: malformed JSON, noise, invalid UTF-8, oversize lines.</summary>
public sealed record RawStep(byte[] Bytes, bool Newline, int Repeat) : ScriptStep;
