using System.Text.RegularExpressions;

namespace ContainmentLab.Cli.Suite;

/// <summary>Finds fixture files: <c>*.yaml</c> under a folder, except the fake-agent scripts under <c>scripts/</c>.</summary>
public static class FixtureDiscovery
{
    public static IReadOnlyList<string> Find(string directory, string? filter)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"no fixture folder '{directory}'");
        }

        var root = Path.GetFullPath(directory);
        var match = filter is null ? null : GlobToRegex(filter);
        return [.. Directory.EnumerateFiles(root, "*.yaml", SearchOption.AllDirectories)
            .Where(path => !Relative(root, path).Split('/').SkipLast(1).Any(folder => folder is "scripts" or "transcripts"))
            .Where(path => match is null || match.IsMatch(Relative(root, path)) || match.IsMatch(Path.GetFileNameWithoutExtension(path)))
            .Order(StringComparer.Ordinal)];
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary><c>*</c> any run of characters but <c>/</c>, <c>**</c> any run, <c>?</c> one character.</summary>
    private static Regex GlobToRegex(string glob)
    {
        var pattern = Regex.Escape(glob).Replace(@"\*\*", "\u0001", StringComparison.Ordinal).Replace(@"\*", "[^/]*", StringComparison.Ordinal)
            .Replace("\u0001", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal);
        return new Regex("^" + pattern + "(\\.yaml)?$", RegexOptions.CultureInvariant);
    }
}
