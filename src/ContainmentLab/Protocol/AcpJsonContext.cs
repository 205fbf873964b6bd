using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContainmentLab.Protocol;

/// <summary>Source-generated serialization for every ACP shape we read or write. Missing required members and nulls in non-nullable ones are errors.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(InitializeRequest))]
[JsonSerializable(typeof(InitializeResponse))]
[JsonSerializable(typeof(NewSessionRequest))]
[JsonSerializable(typeof(NewSessionResponse))]
[JsonSerializable(typeof(PromptRequest))]
[JsonSerializable(typeof(PromptResponse))]
[JsonSerializable(typeof(CancelNotification))]
[JsonSerializable(typeof(SessionNotification))]
[JsonSerializable(typeof(CancelRequestNotification))]
[JsonSerializable(typeof(RequestPermissionRequest))]
[JsonSerializable(typeof(RequestPermissionResponse))]
[JsonSerializable(typeof(ReadTextFileRequest))]
[JsonSerializable(typeof(ReadTextFileResponse))]
[JsonSerializable(typeof(WriteTextFileRequest))]
[JsonSerializable(typeof(EmptyResponse))]
[JsonSerializable(typeof(ContainmentToolRequest))]
[JsonSerializable(typeof(ContainmentToolResponse))]
[JsonSerializable(typeof(CreateTerminalRequest))]
[JsonSerializable(typeof(CreateTerminalResponse))]
[JsonSerializable(typeof(TerminalRequest))]
[JsonSerializable(typeof(TerminalExitStatus))]
[JsonSerializable(typeof(TerminalOutputResponse))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(ContentBlock))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
public sealed partial class AcpJsonContext : JsonSerializerContext;
