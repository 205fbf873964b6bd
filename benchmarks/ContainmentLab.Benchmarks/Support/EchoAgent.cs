using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ContainmentLab.Bridge;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>
/// The fake agent in <c>--echo</c> mode, started exactly as the bridge starts an agent (<see cref="AgentProcess"/>:
/// the same executable, the same redirected pipes): a line written to it comes back unchanged. One round trip is the
/// physical floor of any Stop over stdio: a write to the child's stdin, its wake-up, its write, our wake-up.
/// </summary>
internal sealed class EchoAgent : IAsyncDisposable
{
    /// <summary>A <c>session/cancel</c>, the line a Stop sends.</summary>
    public static readonly byte[] CancelLine = Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"sess-1"}}""" + "\n");

    /// <summary>A storm's tool request, about the size the fake agent sends.</summary>
    public static readonly byte[] ToolCallLine = Encoding.UTF8.GetBytes(
        """{"jsonrpc":"2.0","id":1234,"method":"_containmentlab/tool","params":{"sessionId":"sess-1","toolCallId":"sess-1/t1234","name":"desktop.press","arguments":{"target":"Submit"}}}""" + "\n");

    private readonly AgentProcess _process;
    private readonly PipeReader _reader;

    private EchoAgent(AgentProcess process)
    {
        _process = process;
        _reader = PipeReader.Create(process.Output);
    }

    public static EchoAgent Start() => new(AgentProcess.Start(FakeAgentExecutable.Command("--echo")));

    public async Task RoundTripAsync(byte[] line)
    {
        await _process.Input.WriteAsync(line).ConfigureAwait(false);
        await _process.Input.FlushAsync().ConfigureAwait(false);
        await ReadLinesAsync(1).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="count"/> lines with at most <paramref name="window"/> unanswered, like a storm's concurrency.</summary>
    public async Task PipelineAsync(byte[] line, int count, int window)
    {
        var sent = 0;
        for (; sent < Math.Min(window, count); sent++)
        {
            await _process.Input.WriteAsync(line).ConfigureAwait(false);
        }

        await _process.Input.FlushAsync().ConfigureAwait(false);
        var received = 0;
        while (received < count)
        {
            var read = await ReadLinesAsync(1, atLeastOnly: true).ConfigureAwait(false);
            received += read;
            for (var i = 0; i < read && sent < count; i++, sent++)
            {
                await _process.Input.WriteAsync(line).ConfigureAwait(false);
            }

            await _process.Input.FlushAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.StopAsync(TimeSpan.FromSeconds(5), TimeProvider.System).ConfigureAwait(false);
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _process.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Reads whole lines: exactly <paramref name="count"/>, or (<paramref name="atLeastOnly"/>) every whole line available once there is one.</summary>
    private async Task<int> ReadLinesAsync(int count, bool atLeastOnly = false)
    {
        var lines = 0;
        while (true)
        {
            var result = await _reader.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            while ((atLeastOnly || lines < count) && buffer.PositionOf((byte)'\n') is { } end)
            {
                buffer = buffer.Slice(buffer.GetPosition(1, end));
                lines++;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (lines >= count)
            {
                return lines;
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException("the echo agent closed its stdout");
            }
        }
    }
}
