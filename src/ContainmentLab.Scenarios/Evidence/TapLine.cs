namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// One line as the tap split it (on <c>\n</c> only, independent of the bridge's reader, no length cap): its number, when
/// its first and last bytes went by, its length and hash (the bytes without the LF, and without a CR right before it,
/// as a line reader hands them on), and the first <see cref="TapStream.HeadBytes"/> of it.
/// </summary>
/// <param name="Chunk">The read or write call whose bytes completed the line.</param>
/// <param name="Complete">False for a last fragment with no LF, seen at end of stream.</param>
internal sealed record TapLine(int Connection, TapDirection Direction, long Number, TimeSpan StartedAt, TimeSpan At, long Length, ulong Hash, bool Complete, int Chunk, LineHead Head)
{
    /// <summary>What the line is, for a message: <c>request 7 'fs/read_text_file' (session s1)</c>, or its length.</summary>
    public string Describe()
    {
        var what = Head.Kind switch
        {
            LineKind.Request => $"request {Head.Id} '{Head.Method}'",
            LineKind.Notification => $"'{Head.Method}'" + (Head.UpdateKind is { } kind ? $" {kind}" : string.Empty),
            LineKind.Response => Head.Id is { } id ? $"answer to {id}" : "answer with a null id",
            _ => "unreadable line",
        };
        return $"{what}, {Length} bytes";
    }
}
