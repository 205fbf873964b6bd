using System.Text.Json;

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

    /// <summary>Writes (or replaces) the lease atomically.</summary>
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

    /// <summary>Reads every lease. A missing directory has none; a bad file is reported in <see cref="LeaseScan.BadLeases"/>.</summary>
    public LeaseScan ReadAll()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return new LeaseScan([], []);
        }

        var leases = new List<Lease>();
        var bad = new List<BadLease>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Suffix).Order(StringComparer.Ordinal))
        {
            try
            {
                var lease = JsonSerializer.Deserialize(File.ReadAllBytes(path), LeaseJsonContext.Default.Lease);
                if (lease is null || lease.Id + Suffix != Path.GetFileName(path) || lease.Cookie.Length == 0)
                {
                    bad.Add(new BadLease(path, "not a lease (null, empty cookie, or an id that does not match the file name)"));
                    continue;
                }

                leases.Add(lease);
            }
            catch (JsonException ex)
            {
                bad.Add(new BadLease(path, ex.Message));
            }
            catch (IOException ex)
            {
                // Deleted between listing and reading (its bridge stopped, another sweep removed it): not a bad lease.
                if (File.Exists(path))
                {
                    bad.Add(new BadLease(path, ex.Message));
                }
            }
            catch (UnauthorizedAccessException ex)
            {
                bad.Add(new BadLease(path, ex.Message));
            }
        }

        return new LeaseScan(leases, bad);
    }

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
            return;
        }

        System.IO.Directory.CreateDirectory(Directory, DirectoryMode);

        // CreateDirectory leaves an existing directory's mode alone. chmod succeeds only for the owner, so this both
        // tightens a directory we made loosely and refuses one another user planted in /tmp (they could forge leases).
        File.SetUnixFileMode(Directory, DirectoryMode);
    }
}
