namespace ContainmentLab.FakeAgent;

/// <summary>A JSON-RPC error the script answers a request with.</summary>
public sealed record ScriptedError(int Code, string Message);

/// <summary>
/// <c>exit_during_startup: {exit_code|signal, after}</c> — the agent dies before it answers <c>initialize</c>: when
/// <c>initialize</c> arrives, or <see cref="After"/> from the start if set (an <c>initialize</c> that arrives earlier is
/// never answered).
/// </summary>
public sealed record StartupExit(ExitRequest Exit, TimeSpan? After);
