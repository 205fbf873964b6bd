namespace ContainmentLab.Protocol;

/// <summary>Limits on what one wire line may be: a hostile peer cannot make the reader buffer more than this.</summary>
public sealed class FramingOptions
{
    public const int DefaultMaxLineBytes = 4 * 1024 * 1024;
    public const int DefaultMaxDepth = 64;
    public const int DefaultMaxQueuedLines = 10_000;

    /// <summary>The longest line accepted, in bytes without the terminator. A longer line is skipped, never buffered whole.</summary>
    public int MaxLineBytes { get; init; } = DefaultMaxLineBytes;

    /// <summary>The deepest JSON nesting accepted.</summary>
    public int MaxDepth { get; init; } = DefaultMaxDepth;

    /// <summary>
    /// The most lines queued for the agent and not yet written. Every bad line the agent sends earns an error answer; an
    /// agent that floods them and does not read its stdin would grow that queue without bound until the write-stall
    /// timeout. One that lets this many lines queue up is not reading: it is wedged, as after a stalled write.
    /// </summary>
    public int MaxQueuedLines { get; init; } = DefaultMaxQueuedLines;
}
