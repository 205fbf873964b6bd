namespace ContainmentLab.Scenarios.Evidence;

/// <summary>A snapshot of one direction of one connection.</summary>
/// <param name="EndedAt">End of stream seen by a read (FromAgent), or the bridge closed the agent's stdin (ToAgent); null if neither.</param>
internal sealed record TapStreamRecord(int Connection, TapDirection Direction, IReadOnlyList<TapLine> Lines, IReadOnlyList<TapCall> Calls, long Bytes, TimeSpan? EndedAt)
{
    public static TapStreamRecord Empty(int connection, TapDirection direction) => new(connection, direction, [], [], 0, null);

    /// <summary>The first call that began after call <paramref name="index"/> (the bridge asked for more), or null.</summary>
    public TapCall? CallAfter(int index) => index < Calls.Count ? Calls[index] : null;

    /// <summary>
    /// Whether the write call that carried the line returned without failing: its bytes reached the pipe. One that
    /// failed, or never returned (still blocked, or its return lost with a killed host), may not have.
    /// </summary>
    public bool Delivered(TapLine line) => line.Chunk >= 1 && line.Chunk <= Calls.Count && Calls[line.Chunk - 1] is { End: not null, Failed: false };
}
