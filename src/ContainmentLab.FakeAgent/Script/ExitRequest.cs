namespace ContainmentLab.FakeAgent;

/// <summary>
/// How a scripted death ends the agent: with an exit code, or by sending itself a signal. Signals are the few whose
/// numbers are the same on Linux and macOS.
/// </summary>
public sealed record ExitRequest(int ExitCode, string? Signal = null)
{
    private static readonly Dictionary<string, int> s_signals = new(StringComparer.Ordinal)
    {
        ["SIGHUP"] = 1,
        ["SIGINT"] = 2,
        ["SIGQUIT"] = 3,
        ["SIGABRT"] = 6,
        ["SIGKILL"] = 9,
        ["SIGSEGV"] = 11,
        ["SIGTERM"] = 15,
    };

    /// <summary>The signal names a script may use.</summary>
    public static IReadOnlyCollection<string> SignalNames => s_signals.Keys;

    /// <summary>The signal's number, or null for an exit code.</summary>
    public int? SignalNumber => Signal is null ? null : s_signals[Signal];

    public static ExitRequest WithCode(int exitCode) => new(exitCode);

    /// <summary>A signal by name (SIGKILL…); the exit code is what .NET reports for it, 128 + the signal number.</summary>
    /// <exception cref="ArgumentException">Not one of <see cref="SignalNames"/>.</exception>
    public static ExitRequest WithSignal(string signal) =>
        s_signals.TryGetValue(signal, out var number) ? new(128 + number, signal) : throw new ArgumentException($"unknown signal '{signal}'", nameof(signal));

    public override string ToString() => Signal ?? $"exit code {ExitCode}";
}
