namespace ContainmentLab.Protocol;

public enum LineReadStatus
{
    Line,
    Oversize,
    EndOfStream,
}

/// <summary>One read from <see cref="LineReader"/>. <see cref="Line"/> is valid only until the next read.</summary>
public readonly record struct LineReadResult(LineReadStatus Status, ReadOnlyMemory<byte> Line, long LineNumber, long Length);
