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

    /// <summary>
    /// For an oversize line: its top-level id and kind, read from the whole line as it streamed past (not only from its
    /// head: a serializer may write the huge params before the id), so that a request too large to parse is still
    /// answered under its own id, and a response fails the request it answers.
    /// </summary>
    public RecoveredEnvelope Envelope { get; init; }
}
