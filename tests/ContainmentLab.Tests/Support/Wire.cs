using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Support;

/// <summary>Builds wire messages the way the agent would send them, and reads the bridge's answers.</summary>
internal static class Wire
{
    public static IncomingMessage Request<T>(long id, string method, T parameters, JsonTypeInfo<T> typeInfo)
    {
        var bytes = MessageWriter.Request(RpcId.FromNumber(id), method, parameters, typeInfo);
        return new MessageParser().Parse(bytes.AsMemory(0, bytes.Length - 1), id + 1).Message!;
    }

    public static IncomingMessage Tool(long id, string sessionId, string toolCallId, string name, object arguments) =>
        Request(id, AcpMethods.ContainmentTool, new ContainmentToolRequest(sessionId, toolCallId, name, Json(arguments)), AcpJsonContext.Default.ContainmentToolRequest);

    public static JsonElement Json(object value) => JsonDocument.Parse(JsonSerializer.Serialize(value)).RootElement.Clone();

    /// <summary>Parses a response line the bridge wrote.</summary>
    public static IncomingMessage Response(byte[] line) =>
        new MessageParser().Parse(line.AsMemory(0, line.Length - 1), 1).Message
        ?? throw new AssertionException("not a valid JSON-RPC line: " + Encoding.UTF8.GetString(line));
}
