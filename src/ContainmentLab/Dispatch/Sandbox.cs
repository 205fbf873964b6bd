namespace ContainmentLab.Dispatch;

/// <summary>
/// Confines file paths to a root. A path is resolved component by component with symbolic links followed, so
/// <c>..</c>, absolute paths and links that point out are all caught on the real target, not the spelling.
/// </summary>
public sealed class Sandbox
{
    private const int MaxLinkHops = 40;

    public Sandbox(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Directory.CreateDirectory(root);
        Root = RealPath(Path.GetFullPath(root));
    }

    /// <summary>The real (link-free) absolute path of the root.</summary>
    public string Root { get; }

    /// <summary>Resolves <paramref name="path"/> (relative paths against the root) or throws <see cref="ToolDeniedException"/> when it leaves the root.</summary>
    public string Resolve(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ToolDeniedException("the path is empty or contains a NUL byte");
        }

        var full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Root, path));
        var real = RealPath(full);
        if (!IsInside(real))
        {
            throw new ToolDeniedException($"path '{path}' resolves to '{real}', outside the sandbox root '{Root}'");
        }

        return real;
    }

    private bool IsInside(string real) =>
        real == Root || real.StartsWith(Root.EndsWith(Path.DirectorySeparatorChar) ? Root : Root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>Follows every symbolic link along the path; components that do not exist yet are kept as spelled.</summary>
    private static string RealPath(string fullPath)
    {
        var hops = 0;
        var pending = new Stack<string>(fullPath.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = Path.GetPathRoot(fullPath) ?? "/";
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is { } target)
            {
                if (++hops > MaxLinkHops)
                {
                    throw new ToolDeniedException($"too many symbolic links resolving '{fullPath}'");
                }

                // Re-walk the link's target (relative targets are relative to the link's directory).
                var resolved = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
                foreach (var p in resolved.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(p);
                }

                current = Path.GetPathRoot(resolved) ?? "/";
                continue;
            }

            current = next;
        }

        return current;
    }
}
