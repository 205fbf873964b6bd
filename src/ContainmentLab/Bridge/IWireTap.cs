namespace ContainmentLab.Bridge;

/// <summary>Sees every wire line in both directions (transcripts, tests). Called on the reader and writer loops: keep it quick.</summary>
public interface IWireTap
{
    /// <summary>A line the agent wrote (without its terminator); <paramref name="lineNumber"/> is the wire line number.</summary>
    void Received(long lineNumber, ReadOnlySpan<byte> line);

    /// <summary>A line the bridge wrote (with its LF).</summary>
    void Sent(ReadOnlySpan<byte> line);
}
