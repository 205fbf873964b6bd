namespace ContainmentLab.Protocol;

/// <summary>Limits on what one wire line may be: a hostile peer cannot make the reader buffer more than this.</summary>
public sealed class FramingOptions
{
    public const int DefaultMaxLineBytes = 4 * 1024 * 1024;
    public const int DefaultMaxDepth = 64;

    /// <summary>The longest line accepted, in bytes without the terminator. A longer line is skipped, never buffered whole.</summary>
    public int MaxLineBytes { get; init; } = DefaultMaxLineBytes;

    /// <summary>The deepest JSON nesting accepted.</summary>
    public int MaxDepth { get; init; } = DefaultMaxDepth;
}
