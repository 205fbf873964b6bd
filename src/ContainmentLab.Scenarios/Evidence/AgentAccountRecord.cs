using System.Text.Json;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// The fake agent's own account of one process's run (<see cref="FakeAgent.AgentAccount"/>), read back by the runner.
/// A last entry cut short (a killed agent) is skipped; any other unreadable entry is a <see cref="Problem"/>.
/// </summary>
internal sealed record AgentAccountRecord(
    string Path,
    int? ProcessId,
    IReadOnlyList<AccountSent> Sent,
    IReadOnlyList<AccountAnswer> Answers,
    IReadOnlyList<AccountReceived> Received,
    AccountExit? Exit,
    long? OutputClosedAfter,
    string? Problem)
{
    /// <summary>Reads the account at <paramref name="path"/>; null when the agent never wrote one.</summary>
    public static AgentAccountRecord? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (IOException ex)
        {
            return new AgentAccountRecord(path, null, [], [], [], null, null, $"{path}: cannot be read: {ex.Message}");
        }

        int? pid = null;
        var sent = new List<AccountSent>();
        var answers = new List<AccountAnswer>();
        var received = new List<AccountReceived>();
        AccountExit? exit = null;
        long? closed = null;
        string? problem = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            try
            {
                using var document = JsonDocument.Parse(lines[i]);
                var e = document.RootElement;
                switch (e.GetProperty("kind").GetString())
                {
                    case "start":
                        pid = e.GetProperty("pid").GetInt32();
                        break;
                    case "sent":
                        sent.Add(new AccountSent(e.GetProperty("line").GetInt64(), e.GetProperty("id").GetRawText(), e.GetProperty("method").GetString()!, Text(e, "session"), e.GetProperty("afterCancel").GetBoolean()));
                        break;
                    case "answered":
                        answers.Add(new AccountAnswer(
                            e.GetProperty("line").GetInt64(),
                            e.GetProperty("id").GetRawText(),
                            e.GetProperty("known").GetBoolean(),
                            e.TryGetProperty("error", out var error) ? error.GetInt32() : null,
                            Text(e, "outcome"),
                            e.GetProperty("afterCancel").GetBoolean()));
                        break;
                    case "received":
                        received.Add(new AccountReceived(e.GetProperty("line").GetInt64(), e.GetProperty("method").GetString()!, e.TryGetProperty("id", out var id) ? id.GetRawText() : null, Text(e, "session"), e.GetProperty("afterCancel").GetBoolean()));
                        break;
                    case "output_closed":
                        closed = e.GetProperty("linesWritten").GetInt64();
                        break;
                    case "exit":
                        exit = new AccountExit(e.GetProperty("reason").GetString()!, e.GetProperty("crash").GetBoolean(), e.GetProperty("linesWritten").GetInt64(), e.GetProperty("linesRead").GetInt64());
                        break;
                }
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                if (i < lines.Length - 1)
                {
                    problem ??= $"{path}:{i + 1}: not an account entry: {ex.Message}";
                }
            }
        }

        return new AgentAccountRecord(path, pid, sent, answers, received, exit, closed, problem);
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
