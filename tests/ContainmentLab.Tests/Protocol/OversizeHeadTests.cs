using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

/// <summary>An oversize line keeps its head (at most <see cref="LineReader.HeadBytes"/>), so its request id can still be read (G9).</summary>
[TestFixture]
[Category("G9")]
public sealed class OversizeHeadTests
{
    private static async Task<List<(LineReadResult Result, string Head)>> ReadAllAsync(byte[] input, int maxLineBytes)
    {
        using var stream = new MemoryStream(input);
        var reader = new LineReader(stream, maxLineBytes);
        var results = new List<(LineReadResult, string)>();
        while (await reader.ReadLineAsync() is { Status: not LineReadStatus.EndOfStream } result)
        {
            results.Add((result, Encoding.UTF8.GetString(result.Head.Span)));
        }

        return results;
    }

    private static byte[] Request(int padding) =>
        Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":950,"method":"fs/write_text_file","params":{"content":" """ + new string('x', padding) + "\"}}\n");

    [TestCase(1_000)]       // over the cap, but within one buffer
    [TestCase(3_000_000)]   // streamed past the cap: discarded as it comes
    public async Task Oversize_HeadIsTheLinesStart_AndIdIsRecoverable(int padding)
    {
        byte[] input = [.. Request(padding), .. "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n"u8.ToArray()];

        var results = await ReadAllAsync(input, 512);

        Assert.That(results.Select(r => r.Result.Status), Is.EqualTo(new[] { LineReadStatus.Oversize, LineReadStatus.Line }));
        var (oversize, head) = results[0];
        Assert.That(head, Does.StartWith("""{"jsonrpc":"2.0","id":950,"method":"fs/write_text_file","""));
        Assert.That(oversize.Head.Length, Is.LessThanOrEqualTo(LineReader.HeadBytes));
        Assert.That(RequestRecovery.Recover(oversize.Head.Span), Is.EqualTo(((RpcId?)RpcId.FromNumber(950), true)));
    }

    [Test]
    public async Task OversizeAtEndOfStream_WithoutNewline_KeepsItsHead()
    {
        var input = Request(100_000)[..^1];

        var results = await ReadAllAsync(input, 512);

        Assert.That(results.Single().Result.Status, Is.EqualTo(LineReadStatus.Oversize));
        Assert.That(results.Single().Head, Does.StartWith("""{"jsonrpc":"2.0","id":950"""));
    }

    [Test]
    public async Task LineWithinTheCap_HasNoHead()
    {
        var results = await ReadAllAsync("{\"a\":1}\n"u8.ToArray(), 512);

        Assert.That(results.Single().Result.Head.IsEmpty, Is.True);
    }
}
