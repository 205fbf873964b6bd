namespace ContainmentLab.Scenarios.Evidence;

/// <summary>One read or write call the bridge made on the agent's pipe: when it began, when it returned, how many bytes.</summary>
/// <param name="Index">1-based, per stream.</param>
/// <param name="End">When the call returned (or threw); null while it is still under way.</param>
/// <param name="Bytes">Bytes read (0 = end of stream) or handed to the write.</param>
internal sealed record TapCall(int Index, TimeSpan Start, TimeSpan? End, int Bytes, bool Failed);
