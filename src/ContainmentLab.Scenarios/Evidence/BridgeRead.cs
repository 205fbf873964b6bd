namespace ContainmentLab.Scenarios.Evidence;

/// <summary>A wire line as the bridge's reader handed it on: its number, length and hash (empty for a line over the limit).</summary>
/// <param name="Repeated">The bridge reported this number more than once.</param>
internal sealed record BridgeRead(long Number, int Length, ulong Hash, bool Repeated = false);
