using System.Text;
using System.Text.Json;
using ContainmentLab.FakeAgent;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// One agent line of a recorded turn, as the fuzzer writes it (its LF is added when written), and how many responses
/// the recorded host had sent since the prompt when the agent wrote it: the replay waits for as many (or for every
/// request it sent to be answered, whichever comes first) before writing it, so tool calls keep their recorded overlap.
/// </summary>
internal sealed record FuzzUnit(byte[] Bytes, int ResponsesBefore);

/// <summary>The agent side of one recorded prompt turn: what the fuzzer mutates.</summary>
internal sealed class FuzzTranscript
{
    private FuzzTranscript(string name, IReadOnlyList<FuzzUnit> turn)
    {
        Name = name;
        Turn = turn;
    }

    public string Name { get; }

    /// <summary>The agent's lines after the prompt reached it, in recorded order (the prompt answer last).</summary>
    public IReadOnlyList<FuzzUnit> Turn { get; }

    /// <summary>
    /// Reads a recording of one session and one prompt. The handshake is left out (the fuzz agent answers it itself);
    /// the recorded sandbox (the session's <c>cwd</c>) becomes <paramref name="sandboxRoot"/>, so file tools stay inside it.
    /// </summary>
    public static FuzzTranscript Load(string path, string sandboxRoot)
    {
        var transcript = Transcript.Load(path);
        string? recordedCwd = null;
        var prompted = false;
        var responses = 0;
        var turn = new List<FuzzUnit>();
        foreach (var entry in transcript.Entries)
        {
            if (entry.Direction == TranscriptDirection.Out)
            {
                using var message = JsonDocument.Parse(entry.Line!);
                var root = message.RootElement;
                if (!root.TryGetProperty("method", out var method))
                {
                    responses += prompted ? 1 : 0;
                }
                else if (method.GetString() == "session/new")
                {
                    recordedCwd = root.GetProperty("params").GetProperty("cwd").GetString();
                }
                else if (method.GetString() == "session/prompt")
                {
                    prompted = true;
                }
            }
            else if (entry.Direction == TranscriptDirection.In && prompted)
            {
                var line = recordedCwd is null ? entry.Line! : entry.Line!.Replace(recordedCwd, sandboxRoot, StringComparison.Ordinal);
                turn.Add(new FuzzUnit(Encoding.UTF8.GetBytes(line), responses));
            }
        }

        if (turn.Count == 0)
        {
            throw new InvalidDataException($"{path}: no agent lines after a session/prompt");
        }

        return new FuzzTranscript(Path.GetFileNameWithoutExtension(path), turn);
    }
}
