using ContainmentLab.Sweep;

namespace ContainmentLab.Tests.Sweep;

/// <summary>An in-memory process table: processes come and go as signals say, and every signal is recorded.</summary>
internal sealed class FakeProcessTable : IProcessTable
{
    private readonly Dictionary<int, FakeProcess> _processes = [];

    public int CurrentProcessId { get; set; } = 1;

    public string? BootId { get; set; } = "boot-1";

    public List<(int Pid, ProcessSignal Signal)> Signals { get; } = [];

    /// <summary>Runs after a signal is applied: lets a test fork a descendant or reuse a pid mid-sweep.</summary>
    public Action<int, ProcessSignal>? AfterSignal { get; set; }

    public FakeProcessTable Add(int pid, long startTime, string? cookie = null, string commandLine = "sleep 1000", bool ignoresTerm = false)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["PATH"] = "/bin" };
        if (cookie is not null)
        {
            environment[AgentCookie.EnvironmentVariable] = cookie;
        }

        _processes[pid] = new FakeProcess(startTime, environment, commandLine, ignoresTerm);
        return this;
    }

    public void Remove(int pid) => _processes.Remove(pid);

    public bool Exists(int pid) => _processes.ContainsKey(pid);

    public IEnumerable<int> SignalledPids(ProcessSignal signal) => Signals.Where(s => s.Signal == signal).Select(s => s.Pid);

    public IReadOnlyList<int> EnumerateProcessIds() => [.. _processes.Keys.Order()];

    public long? GetStartTime(int pid) => _processes.TryGetValue(pid, out var p) ? p.StartTime : null;

    public int? GetParentProcessId(int pid) => _processes.ContainsKey(pid) ? 1 : null;

    public bool? HasEnvironmentEntry(int pid, string name, string value) =>
        _processes.TryGetValue(pid, out var p) ? p.Environment.TryGetValue(name, out var v) && v == value : null;

    public string? GetCommandLine(int pid) => _processes.TryGetValue(pid, out var p) ? p.CommandLine : null;

    public bool Signal(int pid, ProcessSignal signal)
    {
        if (!_processes.TryGetValue(pid, out var process))
        {
            return false;
        }

        Signals.Add((pid, signal));
        if (signal == ProcessSignal.Kill || !process.IgnoresTerm)
        {
            _processes.Remove(pid);
        }

        AfterSignal?.Invoke(pid, signal);
        return true;
    }

    private sealed record FakeProcess(long StartTime, Dictionary<string, string> Environment, string CommandLine, bool IgnoresTerm);
}
