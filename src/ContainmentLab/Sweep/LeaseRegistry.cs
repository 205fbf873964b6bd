using System.Globalization;
using System.Text.Json;
using ContainmentLab.IO;

namespace ContainmentLab.Sweep;

/// <summary>
/// The runtime directory of leases: one JSON file per bridge (<c>ID.lease.json</c>), written atomically (temp file +
/// rename, so a reader sees the old lease or the new one, never half of one), readable by this user only.
/// </summary>
public sealed class LeaseRegistry
{
    private const string Suffix = ".lease.json";
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode LeaseFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The largest lease file read: a lease is a few hundred bytes, plus about 40 per agent cookie.</summary>
    public const int MaxLeaseBytes = 64 * 1024;

    /// <param name="directory">The runtime directory; null for <see cref="DefaultDirectory"/>.</param>
    public LeaseRegistry(string? directory = null)
    {
        Directory = directory ?? DefaultDirectory();
    }

    public string Directory { get; }

    /// <summary>Per user: <c>$XDG_RUNTIME_DIR/containmentlab</c>, else <c>/tmp/containmentlab-UID</c> (<c>%TEMP%\containmentlab</c> on Windows).</summary>
    public static string DefaultDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            return Path.Combine(Path.GetTempPath(), "containmentlab");
        }

        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return string.IsNullOrEmpty(runtime)
            ? Path.Combine("/tmp", $"containmentlab-{NativeUser.EffectiveUserId()}")
            : Path.Combine(runtime, "containmentlab");
    }

    public string PathOf(Lease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return Path.Combine(Directory, lease.Id + Suffix);
    }

    /// <summary>Writes (or replaces) the lease atomically. Throws <see cref="LeaseDirectoryException"/> when the directory is not ours.</summary>
    public void Write(Lease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        EnsureDirectory();
        var temp = Path.Combine(Directory, $".{lease.Id}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = LeaseFileMode;
            }

            using (var stream = new FileStream(temp, options))
            {
                JsonSerializer.Serialize(stream, lease, LeaseJsonContext.Default.Lease);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, PathOf(lease), overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Removes the lease; a lease already gone is fine (another sweep may have removed it).</summary>
    public void Delete(Lease lease) => File.Delete(PathOf(lease));

    /// <summary>
    /// Reads every lease. A missing directory has none. Only regular files owned by us are read (never a link, a FIFO or
    /// a device, never more than <see cref="MaxLeaseBytes"/>); anything else is reported in <see cref="LeaseScan.BadLeases"/>,
    /// and a directory that others control in <see cref="LeaseScan.DirectoryProblem"/>.
    /// </summary>
    public LeaseScan ReadAll()
    {
        var (problem, readable) = InspectDirectory();
        if (!readable)
        {
            return new LeaseScan([], []) { DirectoryProblem = problem };
        }

        var leases = new List<Lease>();
        var bad = new List<BadLease>();
        IEnumerable<string> entries;
        try
        {
            entries = [.. System.IO.Directory.EnumerateFileSystemEntries(Directory, "*" + Suffix).Order(StringComparer.Ordinal)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new LeaseScan([], []) { DirectoryProblem = Join(problem, $"cannot list it: {ex.Message}") };
        }

        uint? owner = OperatingSystem.IsWindows() ? null : NativeUser.EffectiveUserId();
        foreach (var path in entries)
        {
            try
            {
                var bytes = RegularFile.ReadAllBytes(path, MaxLeaseBytes, owner);
                var lease = JsonSerializer.Deserialize(bytes, LeaseJsonContext.Default.Lease);
                if (lease is null || lease.Id + Suffix != Path.GetFileName(path) || lease.Cookies.Any(c => c.Length == 0))
                {
                    bad.Add(new BadLease(path, "not a lease (null, an empty cookie, or an id that does not match the file name)"));
                    continue;
                }

                leases.Add(lease);
            }
            catch (FileRefusedException ex)
            {
                bad.Add(new BadLease(path, ex.Message + ": not read"));
            }
            catch (FileNotFoundException)
            {
                // Deleted between listing and reading (its bridge stopped, another sweep removed it): not a bad lease.
            }
            catch (JsonException ex)
            {
                bad.Add(new BadLease(path, ex.Message));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                bad.Add(new BadLease(path, ex.Message));
            }
        }

        return new LeaseScan(leases, bad) { DirectoryProblem = problem };
    }

    /// <summary>
    /// What is wrong with the directory, and whether its files may still be read. Another user's directory, or one others
    /// may write in, can have our leases removed from it (hiding their orphans) or foreign ones planted: reported, and only
    /// our own regular files in it are read (nobody else can make a file ours). A link or a non-directory is not read at all.
    /// </summary>
    private (string? Problem, bool Readable) InspectDirectory()
    {
        if (!OperatingSystem.IsLinux())
        {
            return (null, System.IO.Directory.Exists(Directory));
        }

        if (NativeFiles.Lstat(Directory) is not { } facts)
        {
            return (null, false);
        }

        if (facts.Kind != FileKind.Directory)
        {
            return ($"{Describe(facts)}, not a directory: nothing in it is read", false);
        }

        string? problem = null;
        var us = NativeUser.EffectiveUserId();
        if (facts.OwnerId != us)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"owned by uid {facts.OwnerId}, not by us (uid {us}): that user can remove our leases (hiding their orphans from the sweep) and keeps this user's bridges from writing theirs");
        }

        if ((facts.Mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            problem = Join(problem, $"mode {facts.ModeText} lets other users write in it: they can remove our leases or plant their own");
        }

        return (problem is null ? null : problem + "; only our own lease files in it are read", true);
    }

    private string Describe(FileFacts facts) =>
        facts.Kind == FileKind.SymbolicLink ? $"a symbolic link (to {new DirectoryInfo(Directory).LinkTarget})" : facts.KindText;

    private static string Join(string? first, string second) => first is null ? second : first + "; " + second;

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
            return;
        }

        System.IO.Directory.CreateDirectory(Directory, DirectoryMode);
        if (OperatingSystem.IsLinux())
        {
            // CreateDirectory is happy with whatever is there already: a link, or a directory another user made first
            // (in /tmp anyone can). Root's chmod below would succeed on another user's directory, so check the owner.
            var facts = NativeFiles.Lstat(Directory) ?? throw new LeaseDirectoryException($"the lease directory {Directory} vanished while it was created");
            var us = NativeUser.EffectiveUserId();
            if (facts.Kind != FileKind.Directory)
            {
                throw new LeaseDirectoryException($"the lease directory {Directory} is {Describe(facts)}, not a directory: no lease written; remove it or choose another runtime directory");
            }

            if (facts.OwnerId != us)
            {
                throw new LeaseDirectoryException(string.Create(CultureInfo.InvariantCulture,
                    $"the lease directory {Directory} is owned by uid {facts.OwnerId}, not by us (uid {us}): that user could remove or forge leases there, so no lease is written; remove it or choose another runtime directory"));
            }
        }

        // CreateDirectory leaves an existing directory's mode alone: tighten one we made loosely.
        File.SetUnixFileMode(Directory, DirectoryMode);
    }
}
