using System.Text;

namespace ContainmentLab.Bridge;

/// <summary>
/// Reads an agent's stderr in bounded chunks: each chunk goes into the tail as it arrives, and the line callback gets
/// lines of at most <see cref="MaxLineChars"/> characters (a longer one comes in pieces). Memory stays bounded whatever
/// the agent writes — a gigabyte without a newline included (G9) — unlike a line reader, which holds a line whole.
/// </summary>
internal static class StderrReader
{
    public const int ChunkBytes = 4096;
    public const int MaxLineChars = 8 * 1024;

    /// <summary>Reads to the end of <paramref name="stderr"/>; a user callback that throws does not stop it.</summary>
    public static async Task ReadAsync(Stream stderr, StderrTail tail, Action<string>? onLine, CancellationToken cancellationToken = default)
    {
        var bytes = new byte[ChunkBytes];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(ChunkBytes)];
        var decoder = new UTF8Encoding(false).GetDecoder();
        var line = new char[MaxLineChars];
        var lineLength = 0;

        // The line so far went out in full pieces: its newline ends it without an empty line of its own.
        var continued = false;
        while (true)
        {
            var read = await stderr.ReadAsync(bytes, cancellationToken).ConfigureAwait(false);
            var count = decoder.GetChars(bytes, 0, read, chars, 0, flush: read == 0);
            var text = chars.AsSpan(0, count);
            tail.AppendText(text);
            while (!text.IsEmpty)
            {
                var newline = text.IndexOf('\n');
                var part = newline < 0 ? text : text[..newline];
                while (!part.IsEmpty)
                {
                    var taken = Math.Min(part.Length, line.Length - lineLength);
                    part[..taken].CopyTo(line.AsSpan(lineLength));
                    lineLength += taken;
                    part = part[taken..];
                    if (lineLength == line.Length)
                    {
                        Emit(line, ref lineLength, onLine);
                        continued = true;
                    }
                }

                if (newline < 0)
                {
                    break;
                }

                if (lineLength > 0 && line[lineLength - 1] == '\r')
                {
                    lineLength--;
                }

                if (lineLength > 0 || !continued)
                {
                    Emit(line, ref lineLength, onLine);
                }

                continued = false;
                text = text[(newline + 1)..];
            }

            if (read == 0)
            {
                if (lineLength > 0)
                {
                    Emit(line, ref lineLength, onLine);
                }

                return;
            }
        }
    }

    private static void Emit(char[] line, ref int length, Action<string>? onLine)
    {
        var count = length;
        length = 0;
        if (onLine is null)
        {
            return;
        }

        try
        {
            onLine(new string(line, 0, count));
        }
#pragma warning disable CA1031 // A user callback must not kill the reader.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
