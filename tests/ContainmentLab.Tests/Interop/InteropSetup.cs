using System.Diagnostics.CodeAnalysis;
using System.Diagnostics;
using System.Globalization;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// Before any interop test: Node.js 20+ with npm must be on PATH (else every interop test fails, saying what to
/// install), and tests/interop/node_modules is installed from the committed lockfile with <c>npm ci</c> when it is
/// missing or older than package-lock.json.
/// </summary>
[SetUpFixture]
public sealed class InteropSetup
{
    private const int MinimumNodeMajor = 20;
    private const string Install = "Install Node.js 20 or later with npm (Debian: apt-get install nodejs npm; or from nodejs.org) and put node and npm on PATH.";

    /// <summary>The node executable found on PATH.</summary>
    public static string Node { get; private set; } = null!;

    /// <summary>tests/interop: the SDK scripts and their node_modules.</summary>
    public static string InteropDirectory { get; private set; } = null!;

    public static string RepositoryRoot { get; private set; } = null!;

    public static string Script(string name) => Path.Combine(InteropDirectory, name);

    public static string CliPath => RepositoryPaths.Cli;

    [OneTimeSetUp]
    public async Task InstallSdkAsync()
    {
        RepositoryRoot = RepositoryPaths.Root;
        InteropDirectory = Path.Combine(RepositoryRoot, "tests", "interop");
        var node = FindOnPath(OperatingSystem.IsWindows() ? "node.exe" : "node");
        if (node is null)
        {
            Fail($"the interop tests need `node`, which is not on PATH. {Install}");
        }

        var npm = FindOnPath(OperatingSystem.IsWindows() ? "npm.cmd" : "npm");
        if (npm is null)
        {
            Fail($"the interop tests need `npm`, which is not on PATH. {Install}");
        }

        Node = node;

        var version = await NodeProcess.RunAsync(Node, ["--version"], InteropDirectory, TimeSpan.FromSeconds(30));
        if (version.ExitCode != 0 || !TryParseMajor(version.Stdout, out var major) || major < MinimumNodeMajor)
        {
            Fail($"the interop tests need Node.js {MinimumNodeMajor}+, `node --version` says '{version.Stdout.Trim()}' {version.Stderr.Trim()}. {Install}");
        }

        var lockFile = Path.Combine(InteropDirectory, "package-lock.json");

        // npm writes node_modules/.package-lock.json at the end of an install: missing means never (or half) installed.
        var installed = Path.Combine(InteropDirectory, "node_modules", ".package-lock.json");
        if (File.Exists(installed) && File.GetLastWriteTimeUtc(installed) >= File.GetLastWriteTimeUtc(lockFile))
        {
            return;
        }

        var ci = await NodeProcess.RunAsync(npm, ["ci", "--no-audit", "--no-fund"], InteropDirectory, TimeSpan.FromMinutes(5));
        if (ci.ExitCode != 0)
        {
            Fail($"`npm ci` in {InteropDirectory} failed with exit code {ci.ExitCode}:\n{ci.Stdout}\n{ci.Stderr}");
        }

        TestContext.Progress.WriteLine($"interop: npm ci in {InteropDirectory}\n{ci.Stdout.Trim()}");
    }

    /// <summary>Walks up from the test assembly's directory to the folder holding ContainmentLab.sln.</summary>
    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static bool TryParseMajor(string version, out int major)
    {
        var text = version.Trim().TrimStart('v');
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        return int.TryParse(dot < 0 ? text : text[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out major);
    }

    /// <summary>Assert.Fail, not Ignore: a machine without Node must not pass the interop tests by skipping them.</summary>
    [DoesNotReturn]
    private static void Fail(string message)
    {
        Assert.Fail(message);
        throw new UnreachableException(); // Assert.Fail throws; it is not annotated as never returning.
    }
}
