namespace ContainmentLab.Scenarios.Evidence;

/// <summary>A snapshot of one direction of one connection.</summary>
/// <param name="EndedAt">End of stream seen by a read (FromAgent), or the bridge closed the agent's stdin (ToAgent); null if neither.</param>
internal sealed record TapStreamRecord(int Connection, TapDirection Direction, IReadOnlyList<TapLine> Lines, IReadOnlyList<TapCall> Calls, long Bytes, TimeSpan? EndedAt)
{
    public static TapStreamRecord Empty(int connection, TapDirection direction) => new(connection, direction, [], [], 0, null);

    /// <summary>The first call that began after call <paramref name="index"/> (the bridge asked for more), or null.</summary>
    public TapCall? CallAfter(int index) => index < Calls.Count ? Calls[index] : null;

    /// <summary>Whether the write call that carried the line failed (the bytes may not have reached the agent).</summary>
    public bool Failed(TapLine line) => line.Chunk >= 1 && line.Chunk <= Calls.Count && Calls[line.Chunk - 1].Failed;
}
