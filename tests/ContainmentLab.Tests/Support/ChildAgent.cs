using System.Diagnostics;
using ContainmentLab.Bridge;

namespace ContainmentLab.Tests.Support;

/// <summary>The fake agent as a real child process: its executable (built next to the tests) and a script file.</summary>
internal sealed class ChildAgent : IDisposable
{
    private readonly string _scriptPath;

    public ChildAgent(string yaml)
    {
        _scriptPath = Path.Combine(Path.GetTempPath(), $"cl-agent-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(_scriptPath, yaml);
    }

    public static string Executable => Path.Combine(AppContext.BaseDirectory, "ContainmentLab.FakeAgent");

    public AgentCommand Command => new(Executable, ["--script", _scriptPath]);

    public void Dispose() => File.Delete(_scriptPath);

    /// <summary>True while a process with this pid exists (a reaped zombie does not count).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Asserts the process is gone, killing it first if a test left it behind (so CI's machine stays clean).</summary>
    public static async Task AssertGoneAsync(int pid)
    {
        try
        {
            await Until.TrueAsync(() => !IsAlive(pid), $"agent pid {pid} to exit", 10_000);
        }
        finally
        {
            if (IsAlive(pid))
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
