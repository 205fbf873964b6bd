using System.Globalization;
using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>A JSON-RPC request id: an integer or a string. Each direction numbers its own requests (ACP), so an id alone never says whether a line is a request or a response.</summary>
public readonly struct RpcId : IEquatable<RpcId>
{
    private readonly string? _text;
    private readonly long _number;

    private RpcId(long number, string? text)
    {
        _number = number;
        _text = text;
    }

    public static RpcId FromNumber(long number) => new(number, null);

    public static RpcId FromString(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new RpcId(0, text);
    }

    public bool IsString => _text is not null;

    public long Number => _number;

    public string? Text => _text;

    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (_text is not null)
        {
            writer.WriteStringValue(_text);
        }
        else
        {
            writer.WriteNumberValue(_number);
        }
    }

    /// <summary>Reads an id from a JSON value; false for anything but an integer or a string.</summary>
    public static bool TryRead(JsonElement element, out RpcId id)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number when element.TryGetInt64(out var n):
                id = FromNumber(n);
                return true;
            case JsonValueKind.String:
                id = FromString(element.GetString()!);
                return true;
            default:
                id = default;
                return false;
        }
    }

    public bool Equals(RpcId other) => _text is null ? other._text is null && _number == other._number : string.Equals(_text, other._text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is RpcId other && Equals(other);

    public override int GetHashCode() => _text is null ? _number.GetHashCode() : StringComparer.Ordinal.GetHashCode(_text);

    public override string ToString() => _text is null ? _number.ToString(CultureInfo.InvariantCulture) : "\"" + _text + "\"";

    public static bool operator ==(RpcId left, RpcId right) => left.Equals(right);

    public static bool operator !=(RpcId left, RpcId right) => !left.Equals(right);
}
