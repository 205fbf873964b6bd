using System.Text;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

/// <summary>
/// G9, "every request it sent is answered": an oversize line's id and kind are read from the whole line as it streams
/// past, not from its first 4 KiB — a serializer may write the huge <c>params</c> before <c>id</c> and <c>method</c>.
/// The oracle is System.Text.Json reading the whole line; the reader must agree with it whatever the key order, the id's
/// form and how the pipe splits the line.
/// </summary>
[TestFixture]
[Category("G9")]
public sealed class OversizeEnvelopeTests
{
    private const int Cap = 64;

    [TestCase("""{"jsonrpc":"2.0","method":"fs/write_text_file","params":{"content":"HUGE"},"id":"huge-1"}""", "\"huge-1\"", true, false)]
    [TestCase("""{"params":{"content":"HUGE"},"id":17,"method":"x","jsonrpc":"2.0"}""", "17", true, false)]
    [TestCase("""{"jsonrpc":"2.0","id":3,"result":{"content":"HUGE"}}""", "3", false, true)]
    [TestCase("""{"jsonrpc":"2.0","error":{"code":1,"message":"HUGE"},"id":"e\u0041"}""", "\"eA\"", false, true)]
    [TestCase("""{"jsonrpc":"2.0","method":"session/update","params":{"text":"HUGE"}}""", null, true, false)]
    [TestCase("""{"jsonrpc":"2.0","id":1.5,"method":"m","params":["HUGE"]}""", null, true, false)]
    [TestCase("""{"jsonrpc":"2.0","id":null,"method":"m","params":["HUGE"]}""", null, true, false)]
    [TestCase("""{"jsonrpc":"2.0","id":{"a":1},"method":"m","params":["HUGE"]}""", null, true, false)]
    [TestCase("""{"jsonrpc":"2.0","method":5,"id":8,"params":["HUGE"]}""", "8", false, false)]
    [TestCase("""{"jsonrpc":"2.0","params":{"id":99,"method":"inner","s":"}{\"id\":7"},"pad":"HUGE","id":4}""", "4", false, false)]
    [TestCase("""  {"jsonrpc":"2.0", "id" : 12 , "method" : "m" , "params" : {"p":"HUGE"} }  """, "12", true, false)]
    [TestCase("""{"jsonrpc":"2.0","idx":1,"methods":"m","results":1,"params":"HUGE","id":2}""", "2", false, false)]
    [TestCase("""[{"jsonrpc":"2.0","id":1,"method":"m","params":"HUGE"}]""", null, false, false)]
    [TestCase("""{"jsonrpc":"2.0","id":6,"params":"HUGE",BROKEN,"method":"m"}""", "6", false, false)]
    public async Task Oversize_EnvelopeAnywhereInTheLine_IsRecovered(string template, string? id, bool hasMethod, bool hasResultOrError)
    {
        var line = Encoding.UTF8.GetBytes(template.Replace("HUGE", new string('x', 3 * 1024 * 1024), StringComparison.Ordinal));
        foreach (var chunk in new[] { 1, 7, 4096, 65_536 })
        {
            var envelope = await ReadOversizeAsync(line, chunk);

            Assert.That(envelope.Id?.ToString(), Is.EqualTo(id), $"chunks of {chunk}");
            Assert.That((envelope.HasMethod, envelope.HasResultOrError), Is.EqualTo((hasMethod, hasResultOrError)), $"chunks of {chunk}");
        }
    }

    [Test]
    public async Task Oversize_IdLongerThanTheBound_IsNotGuessed()
    {
        var line = Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","method":"m","params":{},"id":"{{new string('i', EnvelopeScanner.MaxIdBytes)}}"}""");

        var envelope = await ReadOversizeAsync(line, 13);

        Assert.That(envelope, Is.EqualTo(new RecoveredEnvelope(null, true, false)));
    }

    /// <summary>Random messages (key order, id form, strings full of brackets, quotes and escapes) over random chunkings, against System.Text.Json.</summary>
    [Test]
    [CancelAfter(60_000)]
    public async Task Oversize_RandomMessagesAndChunkings_AgreeWithTheJsonParser(CancellationToken cancellationToken)
    {
        var random = new Random(20261207);
        for (var n = 0; n < 2000; n++)
        {
            var line = RandomMessage(random);
            var expected = Expected(line);
            var chunk = random.Next(4) switch { 0 => 1, 1 => random.Next(1, 16), _ => random.Next(1, 400) };

            var envelope = await ReadOversizeAsync(line, chunk, cancellationToken);

            Assert.That(envelope, Is.EqualTo(expected), $"case {n}, chunks of {chunk}: {Encoding.UTF8.GetString(line)}");
        }
    }

    private static async Task<RecoveredEnvelope> ReadOversizeAsync(byte[] line, int chunk, CancellationToken cancellationToken = default)
    {
        using var stream = new ChunkedStream([.. line, (byte)'\n', .. "{\"after\":1}\n"u8], chunk);
        var reader = new LineReader(stream, Cap);
        var oversize = await reader.ReadLineAsync(cancellationToken);
        var after = await reader.ReadLineAsync(cancellationToken);
        Assert.That(oversize.Status, Is.EqualTo(LineReadStatus.Oversize));
        Assert.That(Encoding.UTF8.GetString(after.Line.Span), Is.EqualTo("{\"after\":1}"), "the next line is read whole");
        return oversize.Envelope;
    }

    /// <summary>What the JSON parser reads from the whole line: the envelope the bridge would see if the line fit.</summary>
    private static RecoveredEnvelope Expected(byte[] line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        RpcId? id = null;
        bool hasMethod = false, hasResultOrError = false;
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "id":
                    id = RpcId.TryRead(property.Value, out var parsed) && Encoding.UTF8.GetByteCount(property.Value.GetRawText()) <= EnvelopeScanner.MaxIdBytes ? parsed : null;
                    break;
                case "method":
                    hasMethod |= property.Value.ValueKind == JsonValueKind.String;
                    break;
                case "result" or "error":
                    hasResultOrError = true;
                    break;
            }
        }

        return new RecoveredEnvelope(id, hasMethod, hasResultOrError);
    }

    private static byte[] RandomMessage(Random random)
    {
        var members = new List<string> { "\"jsonrpc\":\"2.0\"" };
        if (random.Next(4) > 0)
        {
            members.Add("\"id\":" + random.Next(6) switch
            {
                0 => random.Next(-5, 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
                1 => JsonSerializer.Serialize("id-" + RandomText(random, 12)),
                2 => "\"with \\\"escapes\\\" \\u00e9 \\\\\"",
                3 => "null",
                4 => "2.5",
                _ => "\"" + new string('k', random.Next(240, 270)) + "\"",
            });
        }

        if (random.Next(3) > 0)
        {
            members.Add("\"method\":" + (random.Next(5) > 0 ? "\"fs/write_text_file\"" : "7"));
        }

        if (random.Next(3) == 0)
        {
            members.Add(random.Next(2) == 0 ? "\"result\":" + RandomValue(random, 2) : "\"error\":{\"code\":-1,\"message\":\"m\"}");
        }

        members.Add("\"params\":" + RandomValue(random, 3));
        members.Add("\"pad\":\"" + new string('p', random.Next(Cap, 4 * Cap)) + "\"");
        foreach (var decoy in new[] { "\"ids\":1", "\"methodx\":\"m\"", "\"i\":\"d\"", "\"params2\":{\"id\":5,\"method\":\"inner\"}" })
        {
            if (random.Next(3) == 0)
            {
                members.Add(decoy);
            }
        }

        var ordered = members.OrderBy(_ => random.Next()).ToList();
        var ws = random.Next(3) == 0 ? " " : string.Empty;
        return Encoding.UTF8.GetBytes(ws + "{" + ws + string.Join(ws + "," + ws, ordered.Select(m => m.Replace("\":", "\"" + ws + ":" + ws, StringComparison.Ordinal))) + ws + "}");
    }

    private static string RandomValue(Random random, int depth) => (depth == 0 ? random.Next(3) : random.Next(5)) switch
    {
        0 => JsonSerializer.Serialize(RandomText(random, 40)),
        1 => random.Next(2) == 0 ? "true" : "-12.5e3",
        2 => "null",
        3 => "{" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(i => $"\"id{(random.Next(3) == 0 ? string.Empty : i)}\":" + RandomValue(random, depth - 1))) + "}",
        _ => "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, depth - 1))) + "]",
    };

    private static string RandomText(Random random, int max)
    {
        const string alphabet = "ab{}[]\":,\\ é\t/";
        return new string([.. Enumerable.Range(0, random.Next(max)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
    }

    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
