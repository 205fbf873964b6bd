using System.Reflection;
using ContainmentLab.Bridge;

namespace ContainmentLab.Cli.Demo;

public sealed class DemoOptions
{
    public const int DefaultStorm = 2_000;

    /// <summary>How to start the fake agent: the arguments before <c>--script FILE</c>.</summary>
    public required Func<string, AgentCommand> Agent { get; init; }

    public int StormCount { get; init; } = DefaultStorm;

    public int Concurrency { get; init; } = 8;

    /// <summary>Stop session 1 after it dispatched this many calls.</summary>
    public int InterruptFirstAfter { get; init; } = 200;

    /// <summary>Stop all after sessions 2 and 3 each dispatched this many more calls.</summary>
    public int InterruptAllAfterMore { get; init; } = 300;

    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public string? AuditPath { get; init; }

    /// <summary>This very program, run as <c>fake-agent</c> (its apphost, or <c>dotnet program.dll</c>).</summary>
    public static Func<string, AgentCommand> SelfAsFakeAgent()
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which executable is running");
        var isDotnetHost = Path.GetFileNameWithoutExtension(processPath).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        var assembly = Assembly.GetEntryAssembly()!.Location;
        return script => isDotnetHost
            ? new AgentCommand(processPath, [assembly, "fake-agent", "--script", script])
            : new AgentCommand(processPath, ["fake-agent", "--script", script]);
    }
}
