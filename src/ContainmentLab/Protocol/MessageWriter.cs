using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ContainmentLab.Protocol;

/// <summary>Serializes JSON-RPC messages to single compact lines, LF-terminated.</summary>
public static class MessageWriter
{
    /// <summary>A thread's cached buffer is dropped rather than kept when a message grew it past this (a large file read).</summary>
    private const int MaxCachedBufferBytes = 64 * 1024;

    private static readonly JsonWriterOptions s_options = new() { Indented = false, SkipValidation = false };

    // Every line the bridge writes went through a new buffer, a new writer and a closure: the largest share of the bytes
    // allocated per dispatched call. One buffer and writer per thread are reused instead; only the finished line is new.
    [ThreadStatic]
    private static Scratch? t_scratch;

    public static byte[] Request<T>(RpcId id, string method, T parameters, JsonTypeInfo<T> typeInfo) =>
        Write((id, method, parameters, typeInfo), static (w, s) =>
        {
            w.WritePropertyName("id"u8);
            s.id.WriteTo(w);
            w.WriteString("method"u8, s.method);
            w.WritePropertyName("params"u8);
            JsonSerializer.Serialize(w, s.parameters, s.typeInfo);
        });

    public static byte[] Notification<T>(string method, T parameters, JsonTypeInfo<T> typeInfo) =>
        Write((method, parameters, typeInfo), static (w, s) =>
        {
            w.WriteString("method"u8, s.method);
            w.WritePropertyName("params"u8);
            JsonSerializer.Serialize(w, s.parameters, s.typeInfo);
        });

    public static byte[] Result<T>(RpcId id, T result, JsonTypeInfo<T> typeInfo) =>
        Write((id, result, typeInfo), static (w, s) =>
        {
            w.WritePropertyName("id"u8);
            s.id.WriteTo(w);
            w.WritePropertyName("result"u8);
            JsonSerializer.Serialize(w, s.result, s.typeInfo);
        });

    /// <summary>An error response; <paramref name="id"/> is null when the request's id could not be read (JSON-RPC answers those with <c>id: null</c>).</summary>
    public static byte[] Error(RpcId? id, int code, string message) =>
        Write((id, code, message), static (w, s) =>
        {
            w.WritePropertyName("id"u8);
            if (s.id is { } value)
            {
                value.WriteTo(w);
            }
            else
            {
                w.WriteNullValue();
            }

            w.WriteStartObject("error"u8);
            w.WriteNumber("code"u8, s.code);
            w.WriteString("message"u8, s.message);
            w.WriteEndObject();
        });

    private static byte[] Write<TState>(TState state, Action<Utf8JsonWriter, TState> body)
    {
        // Taken off the thread while in use, so a nested call (a serializer calling back in) gets its own.
        var scratch = t_scratch ?? new Scratch();
        t_scratch = null;
        var writer = scratch.Writer;
        try
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc"u8, "2.0");
            body(writer, state);
            writer.WriteEndObject();
            writer.Flush();
            scratch.Buffer.Write("\n"u8);
            var line = scratch.Buffer.WrittenSpan.ToArray();
            if (scratch.Buffer.Capacity <= MaxCachedBufferBytes)
            {
                scratch.Reset();
                t_scratch = scratch;
            }

            return line;
        }
        catch
        {
            // A serializer that threw leaves the writer mid-object: never reuse it.
            writer.Dispose();
            throw;
        }
    }

    private sealed class Scratch
    {
        public Scratch()
        {
            Writer = new Utf8JsonWriter(Buffer, s_options);
        }

        public ArrayBufferWriter<byte> Buffer { get; } = new(256);

        public Utf8JsonWriter Writer { get; }

        public void Reset()
        {
            Buffer.ResetWrittenCount();
            Writer.Reset(Buffer);
        }
    }
}
