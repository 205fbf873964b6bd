using System.Buffers;
using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>
/// Builds a small <see cref="JsonElement"/> with a <see cref="Utf8JsonWriter"/> on a per-thread scratch buffer: the element
/// owns one exact-size copy, with no dictionary or intermediate element on the way (host tools answer every call with one).
/// </summary>
internal static class JsonElementWriter
{
    private const int MaxCachedBufferBytes = 16 * 1024;

    [ThreadStatic]
    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? t_scratch;

    public static JsonElement Build<TState>(TState state, Action<Utf8JsonWriter, TState> body)
    {
        var scratch = t_scratch ?? NewScratch();
        t_scratch = null;
        var (buffer, writer) = scratch;
        try
        {
            body(writer, state);
            writer.Flush();
            var element = JsonElement.Parse(buffer.WrittenSpan);
            if (buffer.Capacity <= MaxCachedBufferBytes)
            {
                buffer.ResetWrittenCount();
                writer.Reset(buffer);
                t_scratch = scratch;
            }

            return element;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    private static (ArrayBufferWriter<byte>, Utf8JsonWriter) NewScratch()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        return (buffer, new Utf8JsonWriter(buffer));
    }
}
