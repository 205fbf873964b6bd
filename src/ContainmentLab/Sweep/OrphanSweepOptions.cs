namespace ContainmentLab.Sweep;

/// <summary>Leases and the orphan sweep (G7).</summary>
public sealed class OrphanSweepOptions
{
    /// <summary>Where lease files live; null for the per-user default (<see cref="LeaseRegistry.DefaultDirectory"/>).</summary>
    public string? RuntimeDirectory { get; init; }

    /// <summary>Sweep the orphans of dead hosts when the bridge starts its agent.</summary>
    public bool SweepAtStart { get; init; } = true;

    /// <summary>Write a lease for the agent and give it the cookie. Off, the agent is invisible to sweeps.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How long orphans get after SIGTERM before every survivor gets SIGKILL.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the sweep looks whether signalled processes are gone.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(50);
}
