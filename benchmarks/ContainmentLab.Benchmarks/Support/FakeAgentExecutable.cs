using ContainmentLab.Bridge;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>
/// The fake agent as a child process. BenchmarkDotNet runs each benchmark from a project it generates, which gets
/// the fake agent's assembly but not always its native launcher: fall back to <c>dotnet ContainmentLab.FakeAgent.dll</c>.
/// </summary>
internal static class FakeAgentExecutable
{
    public static AgentCommand Command(params string[] arguments)
    {
        var directory = AppContext.BaseDirectory;
        var launcher = Path.Combine(directory, OperatingSystem.IsWindows() ? "ContainmentLab.FakeAgent.exe" : "ContainmentLab.FakeAgent");
        if (File.Exists(launcher))
        {
            return new AgentCommand(launcher, arguments);
        }

        var dll = Path.Combine(directory, "ContainmentLab.FakeAgent.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"the fake agent is not next to the benchmarks ({directory})", dll);
        }

        return new AgentCommand(DotnetHost(), [dll, .. arguments]);
    }

    private static string DotnetHost()
    {
        // Under `dotnet run` / BenchmarkDotNet the host is usually the dotnet muxer itself.
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        return Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root ? Path.Combine(root, "dotnet") : "dotnet";
    }
}
