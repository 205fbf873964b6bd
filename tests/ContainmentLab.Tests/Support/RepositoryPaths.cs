namespace ContainmentLab.Tests.Support;

/// <summary>Where the repository and its built CLI are, seen from the test assembly.</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The folder holding ContainmentLab.sln.</summary>
    public static string Root => s_root.Value;

    /// <summary>
    /// The CLI as built in its own folder (src/ContainmentLab.Cli/bin/&lt;Configuration&gt;/net10.0). The copy next to the
    /// tests lacks the assemblies the test host gets from the ASP.NET Core shared framework (WireMock's), which the CLI's
    /// runtime config does not name.
    /// </summary>
    public static string Cli =>
        Path.Combine(Root, "src", "ContainmentLab.Cli", "bin",
            new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name, "net10.0", "ContainmentLab.Cli");

    /// <summary>The G7 stand-in host (tests/ContainmentLab.TestHost), as built in its own folder: for the same reason as <see cref="Cli"/>.</summary>
    public static string TestHost =>
        Path.Combine(Root, "tests", "ContainmentLab.TestHost", "bin",
            new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name, "net10.0", "ContainmentLab.TestHost");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ContainmentLab.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("ContainmentLab.sln not found above " + AppContext.BaseDirectory);
    }
}
