using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// Mutates the agent side of a recorded turn with a seeded <see cref="Random"/>: one to three of truncate, splice two
/// lines, join two lines, duplicate, reorder, delete, flip bytes, insert garbage (random bytes, hostile JSON-RPC,
/// deep nesting, bad UTF-8, oversize lines, sandbox escapes, forged prompt answers), retarget a line to another
/// session, change an id. The same seed always gives the same mutation.
/// </summary>
internal static partial class FuzzMutator
{
    /// <summary>A file a sandbox escape would create: it must never exist after a run.</summary>
    public static string EscapeCanary => Path.Combine(Path.GetTempPath(), "cl-fuzz-escape-canary.txt");

    [GeneratedRegex("\"id\":(-?\\d+)")]
    private static partial Regex NumericId();

    public static (List<FuzzUnit> Units, string Description) Mutate(FuzzTranscript transcript, Random random, int maxLineBytes)
    {
        var units = transcript.Turn.ToList();
        var description = new List<string>();
        var count = 1 + random.Next(3);
        for (var n = 0; n < count; n++)
        {
            description.Add(MutateOnce(units, random, maxLineBytes));
        }

        return (units, string.Join("; ", description));
    }

    private static string MutateOnce(List<FuzzUnit> units, Random random, int maxLineBytes)
    {
        var op = units.Count == 0 ? 7 : random.Next(10);
        var i = units.Count == 0 ? 0 : random.Next(units.Count);
        switch (op)
        {
            case 0:
            {
                var cut = random.Next(units[i].Bytes.Length);
                units[i] = units[i] with { Bytes = units[i].Bytes[..cut] };
                return $"truncate line {i} to {cut} bytes";
            }

            case 1:
            {
                var j = random.Next(units.Count);
                var a = random.Next(units[i].Bytes.Length + 1);
                var b = random.Next(units[j].Bytes.Length + 1);
                units[i] = units[i] with { Bytes = [.. units[i].Bytes[..a], .. units[j].Bytes[b..]] };
                return $"splice line {i}[..{a}] with line {j}[{b}..]";
            }

            case 2 when i + 1 < units.Count:
                units[i] = units[i] with { Bytes = [.. units[i].Bytes, .. units[i + 1].Bytes] };
                units.RemoveAt(i + 1);
                return $"join lines {i} and {i + 1}";
            case 3:
            {
                var at = random.Next(units.Count + 1);
                units.Insert(at, units[i] with { ResponsesBefore = ResponsesAt(units, at) });
                return $"duplicate line {i} at {at}";
            }

            case 4:
            {
                var j = random.Next(units.Count);
                (units[i], units[j]) = (units[i] with { Bytes = units[j].Bytes }, units[j] with { Bytes = units[i].Bytes });
                return $"swap lines {i} and {j}";
            }

            case 5:
                units.RemoveAt(i);
                return $"delete line {i}";
            case 6:
            {
                var bytes = units[i].Bytes.ToArray();
                var flips = new List<string>();
                for (var k = 1 + random.Next(4); k > 0 && bytes.Length > 0; k--)
                {
                    var at = random.Next(bytes.Length);
                    var mask = (byte)(1 + random.Next(255));
                    bytes[at] ^= mask;
                    flips.Add($"{at}^0x{mask:x2}");
                }

                units[i] = units[i] with { Bytes = bytes };
                return $"flip line {i} at {string.Join(',', flips)}";
            }

            case 8:
            {
                var to = random.Next(4) switch { 0 => "sess-2", 1 => "ghost", 2 => string.Empty, _ => "sess-1\\u0000" };
                units[i] = units[i] with { Bytes = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(units[i].Bytes).Replace("\"sess-1\"", $"\"{to}\"", StringComparison.Ordinal)) };
                return $"retarget line {i} to session '{to}'";
            }

            case 9:
            {
                var to = random.Next(5) switch { 0 => "2", 1 => random.Next(4).ToString(CultureInfo.InvariantCulture), 2 => "\"0\"", 3 => "-1", _ => "99999999999999999999" };
                var text = Encoding.UTF8.GetString(units[i].Bytes);
                units[i] = units[i] with { Bytes = Encoding.UTF8.GetBytes(NumericId().Replace(text, $"\"id\":{to}", 1)) };
                return $"set the id of line {i} to {to}";
            }

            default:
            {
                var at = random.Next(units.Count + 1);
                var (name, garbage) = Garbage(random, maxLineBytes);
                units.Insert(at, new FuzzUnit(garbage, ResponsesAt(units, at)));
                return $"insert {name} at {at}";
            }
        }
    }

    private static int ResponsesAt(List<FuzzUnit> units, int at) => at == 0 ? 0 : units[Math.Min(at, units.Count) - 1].ResponsesBefore;

    private static (string Name, byte[] Bytes) Garbage(Random random, int maxLineBytes)
    {
        static (string, byte[]) Text(string name, string text) => (name, Encoding.UTF8.GetBytes(text));
        var canary = EscapeCanary;
        switch (random.Next(30))
        {
            case 0:
            {
                var noise = new byte[1 + random.Next(300)];
                random.NextBytes(noise);
                return ("random bytes", noise);
            }

            case 1: return ("an oversize line", Encoding.ASCII.GetBytes(new string('x', maxLineBytes + 1 + random.Next(100))));
            case 2: return ("an oversize JSON line", Encoding.ASCII.GetBytes("{\"jsonrpc\":\"2.0\",\"id\":70,\"method\":\"evil\",\"params\":{\"p\":\"" + new string('y', maxLineBytes) + "\"}}"));
            case 3: return Text("nesting 100 deep", new string('[', 100) + new string(']', 100));
            case 4: return Text("objects nested 70 deep", string.Concat(Enumerable.Repeat("{\"a\":", 70)) + "1" + new string('}', 70));
            case 5: return ("invalid UTF-8", [.. "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"sess-1"u8, 0xFF, 0xC0, .. "\"}}"u8]);
            case 6: return ("a BOM before a notification", [0xEF, 0xBB, 0xBF, .. "{\"jsonrpc\":\"2.0\",\"method\":\"_x/y\",\"params\":{}}"u8]);
            case 7: return Text("a blank line", string.Empty);
            case 8: return Text("a lone CR", "\r");
            case 9: return Text("an empty object", "{}");
            case 10: return Text("a batch", "[{\"jsonrpc\":\"2.0\",\"id\":71,\"method\":\"fs/read_text_file\"}]");
            case 11: return Text("a scalar", random.Next(2) == 0 ? "null" : "42");
            case 12: return Text("a response with a null id", "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}");
            case 13: return Text("a request with a fractional id", "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"_containmentlab/tool\",\"params\":{}}");
            case 14: return Text("a request with an object id", "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"fs/read_text_file\"}");
            case 15: return Text("a JSON-RPC 1.0 request", "{\"jsonrpc\":\"1.0\",\"id\":72,\"method\":\"fs/read_text_file\",\"params\":{\"sessionId\":\"sess-1\",\"path\":\"x\"}}");
            case 16: return Text("a request with an empty method", "{\"jsonrpc\":\"2.0\",\"id\":73,\"method\":\"\",\"params\":{}}");
            case 17: return Text("a request with scalar params", "{\"jsonrpc\":\"2.0\",\"id\":74,\"method\":\"_containmentlab/tool\",\"params\":7}");
            case 18: return Text("an unknown method", "{\"jsonrpc\":\"2.0\",\"id\":\"evil\",\"method\":\"evil/exec\",\"params\":{\"cmd\":\"rm -rf /\"}}");
            case 19: return Text("a tool call for a ghost session", "{\"jsonrpc\":\"2.0\",\"id\":75,\"method\":\"_containmentlab/tool\",\"params\":{\"sessionId\":\"ghost\",\"toolCallId\":\"g1\",\"name\":\"desktop.press\",\"arguments\":{\"target\":\"X\"}}}");
            case 20: return Text("a tool call for the idle session", "{\"jsonrpc\":\"2.0\",\"id\":76,\"method\":\"_containmentlab/tool\",\"params\":{\"sessionId\":\"sess-2\",\"toolCallId\":\"i1\",\"name\":\"desktop.press\",\"arguments\":{\"target\":\"X\"}}}");
            case 21: return Text("a read outside the sandbox", "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"fs/read_text_file\",\"params\":{\"sessionId\":\"sess-1\",\"path\":\"/etc/passwd\"}}");
            case 22: return Text("a write outside the sandbox", $"{{\"jsonrpc\":\"2.0\",\"id\":78,\"method\":\"fs/write_text_file\",\"params\":{{\"sessionId\":\"sess-1\",\"path\":{JsonPath(canary)},\"content\":\"escaped\"}}}}");
            case 23: return Text("a relative write escaping the sandbox", "{\"jsonrpc\":\"2.0\",\"id\":79,\"method\":\"fs/write_text_file\",\"params\":{\"sessionId\":\"sess-1\",\"path\":\"../cl-fuzz-escape-canary.txt\",\"content\":\"escaped\"}}");
            case 24: return Text("an update for the idle session", "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"sess-2\",\"update\":{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"z\",\"status\":\"in_progress\"}}}");
            case 25: return Text("a forged cancelled prompt answer", "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"stopReason\":\"cancelled\"}}");
            case 26: return Text("an error prompt answer", "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-1,\"message\":\"no\"}}");
            case 27: return Text("a prompt answer with a bad result", "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"stopReason\":42}}");
            case 28: return Text("a cancel_request", "{\"jsonrpc\":\"2.0\",\"method\":\"$/cancel_request\",\"params\":{\"id\":0}}");
            default: return Text("a permission request without options", "{\"jsonrpc\":\"2.0\",\"id\":80,\"method\":\"session/request_permission\",\"params\":{\"sessionId\":\"sess-1\",\"toolCall\":{\"toolCallId\":\"p\"}}}");
        }
    }

    private static string JsonPath(string path) => System.Text.Json.JsonSerializer.Serialize(path);
}
