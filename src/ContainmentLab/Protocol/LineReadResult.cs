namespace ContainmentLab.Protocol;

public enum LineReadStatus
{
    Line,
    Oversize,
    EndOfStream,
}

/// <summary>One read from <see cref="LineReader"/>. <see cref="Line"/> is valid only until the next read.</summary>
public readonly record struct LineReadResult(LineReadStatus Status, ReadOnlyMemory<byte> Line, long LineNumber, long Length)
{
    /// <summary>
    /// For an oversize line: its first bytes (at most <see cref="LineReader.HeadBytes"/>), enough to read the id of a
    /// request too large to parse, so that it can still be answered. Valid only until the next read.
    /// </summary>
    public ReadOnlyMemory<byte> Head { get; init; }
}
