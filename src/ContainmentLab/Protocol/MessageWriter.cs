using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ContainmentLab.Protocol;

/// <summary>Serializes JSON-RPC messages to single compact lines, LF-terminated.</summary>
public static class MessageWriter
{
    private static readonly JsonWriterOptions s_options = new() { Indented = false, SkipValidation = false };

    public static byte[] Request<T>(RpcId id, string method, T parameters, JsonTypeInfo<T> typeInfo) =>
        Write(w =>
        {
            w.WritePropertyName("id"u8);
            id.WriteTo(w);
            w.WriteString("method"u8, method);
            w.WritePropertyName("params"u8);
            JsonSerializer.Serialize(w, parameters, typeInfo);
        });

    public static byte[] Notification<T>(string method, T parameters, JsonTypeInfo<T> typeInfo) =>
        Write(w =>
        {
            w.WriteString("method"u8, method);
            w.WritePropertyName("params"u8);
            JsonSerializer.Serialize(w, parameters, typeInfo);
        });

    public static byte[] Result<T>(RpcId id, T result, JsonTypeInfo<T> typeInfo) =>
        Write(w =>
        {
            w.WritePropertyName("id"u8);
            id.WriteTo(w);
            w.WritePropertyName("result"u8);
            JsonSerializer.Serialize(w, result, typeInfo);
        });

    /// <summary>An error response; <paramref name="id"/> is null when the request's id could not be read (JSON-RPC answers those with <c>id: null</c>).</summary>
    public static byte[] Error(RpcId? id, int code, string message) =>
        Write(w =>
        {
            w.WritePropertyName("id"u8);
            if (id is { } value)
            {
                value.WriteTo(w);
            }
            else
            {
                w.WriteNullValue();
            }

            w.WriteStartObject("error"u8);
            w.WriteNumber("code"u8, code);
            w.WriteString("message"u8, message);
            w.WriteEndObject();
        });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, s_options))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc"u8, "2.0");
            body(writer);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
