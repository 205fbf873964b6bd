namespace ContainmentLab.Scenarios.Evidence;

/// <summary>Where the raw bytes of a tap go besides the tap itself (the transcript).</summary>
internal interface IRawSink
{
    void Raw(int connection, TapDirection direction, TimeSpan at, ReadOnlySpan<byte> bytes);
}
