namespace ContainmentLab.Sweep;

/// <summary>Leases and the orphan sweep (G7).</summary>
public sealed class OrphanSweepOptions
{
    /// <summary>Where lease files live; null for the per-user default.</summary>
    public string? RuntimeDirectory { get; init; }

    /// <summary>Sweep the orphans of dead hosts when the bridge starts its agent.</summary>
    public bool SweepAtStart { get; init; } = true;

    /// <summary>Write a lease for the agent and give it the cookie. Off, the agent is invisible to sweeps.</summary>
    public bool Enabled { get; init; } = true;
}
