using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>One well-formed JSON-RPC message read from the wire.</summary>
/// <param name="Kind">Request or notification when the line has <c>method</c>, a response otherwise (ACP: never tell them apart by id).</param>
/// <param name="Id">The id of a request or response.</param>
/// <param name="Method">The method of a request or notification.</param>
/// <param name="Params">
/// The params of a request or notification (undefined when absent). For a request read by the bridge's connection,
/// a view valid until the request is answered (<see cref="MessageParser.ParseBorrowingRequestParams"/>).
/// </param>
/// <param name="Result">The result of a successful response.</param>
/// <param name="Error">The error of a failed response.</param>
/// <param name="LineNumber">The 1-based wire line it came from.</param>
public sealed record IncomingMessage(
    MessageKind Kind,
    RpcId? Id,
    string? Method,
    JsonElement Params,
    JsonElement Result,
    RpcError? Error,
    long LineNumber)
{
    /// <summary>Deserializes the params with a source-generated type, reporting a bad shape as <see cref="JsonException"/>.</summary>
    public T ParamsAs<T>(System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (Params.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            throw new JsonException($"'{Method}' needs params");
        }

        return Params.Deserialize(typeInfo) ?? throw new JsonException($"'{Method}' params are null");
    }

    /// <summary>Deserializes the result of a response.</summary>
    public T ResultAs<T>(System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (Result.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            throw new JsonException("the response has no result");
        }

        return Result.Deserialize(typeInfo) ?? throw new JsonException("the result is null");
    }
}
