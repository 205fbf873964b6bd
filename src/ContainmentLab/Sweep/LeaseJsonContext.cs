using System.Text.Json.Serialization;

namespace ContainmentLab.Sweep;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    WriteIndented = true)]
[JsonSerializable(typeof(Lease))]
internal sealed partial class LeaseJsonContext : JsonSerializerContext;
