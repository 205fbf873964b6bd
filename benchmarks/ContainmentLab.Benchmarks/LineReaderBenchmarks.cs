using System.Text;
using BenchmarkDotNet.Attributes;
using ContainmentLab.Protocol;

namespace ContainmentLab.Benchmarks;

/// <summary>
/// The bridge's line reader on its own, from memory (no pipe, no process): the hot path of every wire line, and the
/// skip of an oversize line. <c>ShortLines</c> is per line (tool-call-sized, 200 bytes) and must allocate nothing;
/// the oversize cases are per 64 MiB line: one whose bytes are a JSON string (its envelope is read as it streams past)
/// and one of noise that is not JSON (the envelope scan gives up at its first byte: the cost of finding the newline alone).
/// </summary>
[MemoryDiagnoser]
public class LineReaderBenchmarks
{
    private const int ShortLineCount = 100_000;
    private const int HugeBytes = 64 * 1024 * 1024;

    private byte[] _shortLines = null!;
    private byte[] _hugeRequest = null!;
    private byte[] _hugeNoise = null!;

    [GlobalSetup]
    public void Setup()
    {
        var line = """{"jsonrpc":"2.0","id":17,"method":"_containmentlab/tool","params":{"sessionId":"sess-1","toolCallId":"sess-1/t17","name":"desktop.press","arguments":{"target":"OK"}}}""";
        line = line.PadRight(199) + "\n";
        _shortLines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line, ShortLineCount)));

        // The id after the huge params, as some serializers write it: the reader must read to the end to find it.
        var head = Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","method":"fs/write_text_file","params":{"sessionId":"sess-1","path":"/tmp/a","content":" """.TrimEnd());
        var tail = Encoding.UTF8.GetBytes("""\n"},"id":"huge-1"}""" + "\n" + """{"jsonrpc":"2.0","id":1,"result":{}}""" + "\n");
        _hugeRequest = new byte[head.Length + HugeBytes + tail.Length];
        head.CopyTo(_hugeRequest, 0);
        _hugeRequest.AsSpan(head.Length, HugeBytes).Fill((byte)'x');
        tail.CopyTo(_hugeRequest, head.Length + HugeBytes);

        _hugeNoise = new byte[HugeBytes + 1];
        new Random(3).NextBytes(_hugeNoise);
        _hugeNoise.AsSpan().Replace((byte)'\n', (byte)0);
        _hugeNoise[0] = 0xFF;
        _hugeNoise[^1] = (byte)'\n';
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ShortLineCount)]
    public async Task<long> ShortLines()
    {
        var reader = new LineReader(new MemoryStream(_shortLines, writable: false));
        long bytes = 0;
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { Status: LineReadStatus.Line } read)
        {
            bytes += read.Length;
        }

        return bytes;
    }

    [Benchmark]
    public async Task<RecoveredEnvelope> Oversize64MiB_JsonString_EnvelopeRead()
    {
        var reader = new LineReader(new MemoryStream(_hugeRequest, writable: false));
        var read = await reader.ReadLineAsync().ConfigureAwait(false);
        var next = await reader.ReadLineAsync().ConfigureAwait(false);
        return read.Status == LineReadStatus.Oversize && read.Envelope.Id is not null && next.Status == LineReadStatus.Line
            ? read.Envelope
            : throw new InvalidOperationException($"read {read.Status} {read.Envelope}, then {next.Status}");
    }

    [Benchmark]
    public async Task<long> Oversize64MiB_Noise()
    {
        var reader = new LineReader(new MemoryStream(_hugeNoise, writable: false));
        var read = await reader.ReadLineAsync().ConfigureAwait(false);
        return read.Status == LineReadStatus.Oversize ? read.Length : throw new InvalidOperationException($"read {read.Status}");
    }
}
