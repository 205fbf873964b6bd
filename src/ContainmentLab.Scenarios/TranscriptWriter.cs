using System.Globalization;
using System.Text;
using System.Text.Json;
using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The NDJSON transcript of a run, one object a line, <c>t</c> in seconds since the run's start:
/// <c>{"t":0.012,"dir":"out","line":"…"}</c> (bridge → agent), <c>"dir":"in"</c> (agent → bridge; bytes that are not
/// UTF-8 are replaced by U+FFFD), <c>{"t":…,"dir":"event","event":"ToolSkipped",…the event's fields…}</c>, and
/// <c>{"t":…,"dir":"action","action":"interrupt","session":"sess-1"}</c> for the timeline's actions, and
/// <c>{"t":…,"dir":"tap","conn":1,"from":"agent","length":n,"bytes":"base64"}</c> for the raw bytes of the runner's own
/// wire tap (<c>"omitted":true</c> instead of the bytes once the run's raw budget is spent).
/// </summary>
internal sealed class TranscriptWriter : IDisposable
{
    private static readonly JsonSerializerOptions s_eventOptions = new(JsonSerializerDefaults.Web);
    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;
    private bool _closed;

    public TranscriptWriter(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _writer = new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\n", AutoFlush = false };
    }

    public void WriteLine(TimeSpan at, string direction, ReadOnlySpan<byte> line)
    {
        var text = RunRecorder.Decode(line);
        Write(at, direction, w => w.WriteString("line", text));
    }

    public void WriteEvent(TimeSpan at, ContainmentEvent containmentEvent)
    {
        JsonElement fields;
        try
        {
            fields = JsonSerializer.SerializeToElement(containmentEvent, containmentEvent.GetType(), s_eventOptions);
        }
        catch (NotSupportedException)
        {
            fields = default;
        }

        Write(at, "event", w =>
        {
            w.WriteString("event", containmentEvent.Name);
            if (fields.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in fields.EnumerateObject().Where(p => p.Name is not ("at" or "name")))
                {
                    property.WriteTo(w);
                }
            }
        });
    }

    /// <summary>
    /// Raw bytes the runner's wire tap saw (<c>from</c>: <c>agent</c> for its stdout, <c>bridge</c> for its stdin), base64;
    /// empty <paramref name="bytes"/> when the run's raw budget is spent: then only the chunk's length is written.
    /// </summary>
    public void WriteRaw(TimeSpan at, int connection, string from, ReadOnlySpan<byte> bytes, int length)
    {
        var copy = bytes.IsEmpty ? null : bytes.ToArray();
        Write(at, "tap", w =>
        {
            w.WriteNumber("conn", connection);
            w.WriteString("from", from);
            w.WriteNumber("length", length);
            if (copy is null)
            {
                w.WriteBoolean("omitted", true);
            }
            else
            {
                w.WriteBase64String("bytes", copy);
            }
        });
    }

    public void WriteAction(TimeSpan at, TimelineAction action, string? sessionId) => Write(at, "action", w =>
    {
        w.WriteString("action", action.Name);
        if (sessionId is not null)
        {
            w.WriteString("session", sessionId);
        }
    });

    private void Write(TimeSpan at, string direction, Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("t", Math.Round(at.TotalSeconds, 6));
            w.WriteString("dir", direction);
            body(w);
            w.WriteEndObject();
        }

        var line = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, checked((int)buffer.Length));
        lock (_lock)
        {
            // Stragglers after the run (a late event) are dropped rather than thrown into the bridge's loops.
            if (_closed)
            {
                return;
            }

            _writer.Write(line);
            _writer.Write('\n');
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _writer.Flush();
            _writer.Dispose();
        }
    }

    internal static string Seconds(TimeSpan at) => at.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
}
