using System.Buffers;
using System.Text;
using System.Text.Json;

namespace ContainmentLab.Dispatch;

/// <summary>
/// The append-only audit log: JSON Lines with a monotonic sequence number, kept in memory and, when a path is
/// given, in a file. Sequence numbers are assigned under one lock, in file order, so the log's order is the order
/// in which gates were passed and closed.
/// </summary>
public sealed class AuditLog : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly List<AuditRecord> _records = [];
    private readonly FileStream? _file;

    // The record is written as UTF-8 straight into the file's buffer: no string, no transcoding back to UTF-8, no stream
    // per record. Both are used only under _lock.
    private readonly ArrayBufferWriter<byte>? _line;
    private readonly Utf8JsonWriter? _lineWriter;
    private long _seq;
    private bool _dirty;
    private bool _disposed;

    public AuditLog(TimeProvider timeProvider, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        Path = path;
        if (path is not null)
        {
            _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.None);
            _line = new ArrayBufferWriter<byte>(256);
            _lineWriter = new Utf8JsonWriter(_line);
        }
    }

    public string? Path { get; }

    /// <summary>The last sequence number handed out.</summary>
    public long LastSeq => Volatile.Read(ref _seq);

    public AuditRecord Append(AuditKind kind, string? sessionId, string? toolCallId = null, string? tool = null, string? requestId = null, string? detail = null)
    {
        lock (_lock)
        {
            var record = new AuditRecord(++_seq, _timeProvider.GetUtcNow(), kind, sessionId, toolCallId, tool, requestId, detail);
            _records.Add(record);
            if (_file is not null && !_disposed)
            {
                _line!.ResetWrittenCount();
                _lineWriter!.Reset(_line);
                Write(_lineWriter, record);
                _line.Write("\n"u8);
                _file.Write(_line.WrittenSpan);
                _dirty = true;
            }

            return record;
        }
    }

    /// <summary>Pushes written records out of the process (to the OS). Cheap when nothing is pending.</summary>
    public void Flush()
    {
        if (_file is null)
        {
            return;
        }

        lock (_lock)
        {
            if (_dirty && !_disposed)
            {
                _file.Flush();
                _dirty = false;
            }
        }
    }

    /// <summary>A snapshot of every record so far, in sequence order.</summary>
    public IReadOnlyList<AuditRecord> Snapshot()
    {
        lock (_lock)
        {
            return [.. _records];
        }
    }

    public static string Serialize(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, record);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Write(Utf8JsonWriter writer, AuditRecord record)
    {
        writer.WriteStartObject();
        writer.WriteNumber("seq"u8, record.Seq);
        writer.WriteString("at"u8, record.At);
        writer.WriteString("kind"u8, record.Kind.WireName());
        WriteOptional(writer, "sessionId"u8, record.SessionId);
        WriteOptional(writer, "toolCallId"u8, record.ToolCallId);
        WriteOptional(writer, "tool"u8, record.Tool);
        WriteOptional(writer, "requestId"u8, record.RequestId);
        WriteOptional(writer, "detail"u8, record.Detail);
        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>Reads an audit file back (for tools and tests that check a log after the fact).</summary>
    public static IReadOnlyList<AuditRecord> ReadFile(string path)
    {
        var records = new List<AuditRecord>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                records.Add(new AuditRecord(
                    root.GetProperty("seq").GetInt64(),
                    root.GetProperty("at").GetDateTimeOffset(),
                    AuditKinds.Parse(root.GetProperty("kind").GetString()!),
                    Optional(root, "sessionId"),
                    Optional(root, "toolCallId"),
                    Optional(root, "tool"),
                    Optional(root, "requestId"),
                    Optional(root, "detail")));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
            {
                throw new FormatException($"{path}:{lineNumber}: not an audit record: {ex.Message}", ex);
            }
        }

        return records;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _file?.Flush();
            _file?.Dispose();
            _lineWriter?.Dispose();
        }
    }

    private static void WriteOptional(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
