using System.Text.Json;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// A recorded run as NDJSON, one object a line: <c>{"t": seconds, "dir": "in"|"out", "line": "raw wire line"}</c> for
/// wire lines (seen from the host: <c>in</c> the agent wrote, <c>out</c> the host wrote) and
/// <c>{"t": seconds, "dir": "event", "event": "ToolSkipped", …}</c> for events. Blank lines are skipped; other fields are
/// ignored, so the recorder can add some.
/// </summary>
public sealed class Transcript
{
    private Transcript(string source, IReadOnlyList<TranscriptEntry> entries)
    {
        Source = source;
        Entries = entries;
    }

    /// <summary>The file name (or other name) the transcript was read from.</summary>
    public string Source { get; }

    /// <summary>Every non-blank line, in file order.</summary>
    public IReadOnlyList<TranscriptEntry> Entries { get; }

    /// <exception cref="TranscriptException">The file cannot be read or a line is invalid.</exception>
    public static Transcript Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TranscriptException(path, 0, "cannot read the transcript: " + ex.Message, ex);
        }

        return Parse(text, path);
    }

    /// <exception cref="TranscriptException">A line is invalid; the message is <c>sourceName:line: what is wrong</c>.</exception>
    public static Transcript Parse(string text, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(sourceName);
        var entries = new List<TranscriptEntry>();
        using var reader = new StringReader(text);
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (!string.IsNullOrWhiteSpace(line))
            {
                entries.Add(ParseLine(line, sourceName, lineNumber));
            }
        }

        return new Transcript(sourceName, entries);
    }

    private static TranscriptEntry ParseLine(string text, string source, long lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new TranscriptException(source, lineNumber, "not JSON: " + ex.Message, ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TranscriptException(source, lineNumber, $"expected a JSON object, got {Describe(root.ValueKind)}");
            }

            if (!root.TryGetProperty("t", out var t))
            {
                throw new TranscriptException(source, lineNumber, "missing 't' (seconds since the start)");
            }

            if (t.ValueKind != JsonValueKind.Number || !t.TryGetDouble(out var seconds) || !double.IsFinite(seconds) || seconds < 0)
            {
                throw new TranscriptException(source, lineNumber, $"'t' must be a number of seconds, at least 0; got {t.GetRawText()}");
            }

            if (!root.TryGetProperty("dir", out var dir))
            {
                throw new TranscriptException(source, lineNumber, "missing 'dir' (in, out or event)");
            }

            var direction = dir.ValueKind == JsonValueKind.String ? dir.GetString() : null;
            switch (direction)
            {
                case "in":
                    return new TranscriptEntry(lineNumber, seconds, TranscriptDirection.In, WireLine(root, source, lineNumber, direction), null);
                case "out":
                    return new TranscriptEntry(lineNumber, seconds, TranscriptDirection.Out, WireLine(root, source, lineNumber, direction), null);
                case "event":
                case "action":
                case "tap":
                    // Events, the user's actions (prompt, interrupt, …) and the runner's raw tap are context for a reader, not
                    // lines to replay: replay skips them.
                    var name = root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
                    return new TranscriptEntry(lineNumber, seconds, TranscriptDirection.Event, null, name);
                default:
                    throw new TranscriptException(source, lineNumber, $"'dir' must be in, out, event, action or tap; got {dir.GetRawText()}");
            }
        }
    }

    private static string WireLine(JsonElement root, string source, long lineNumber, string direction)
    {
        if (!root.TryGetProperty("line", out var line))
        {
            throw new TranscriptException(source, lineNumber, $"missing 'line' (the raw wire line) for dir '{direction}'");
        }

        if (line.ValueKind != JsonValueKind.String)
        {
            throw new TranscriptException(source, lineNumber, $"'line' must be a string (the raw wire line); got {Describe(line.ValueKind)}");
        }

        // A recorder may keep the terminator (IWireTap.Sent sees it): the replayer adds its own LF.
        return line.GetString()!.TrimEnd('\r', '\n');
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
