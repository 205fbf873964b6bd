using System.Text;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// The agent side of one fuzz case, in process: answers the handshake itself (two sessions, <c>sess-1</c> and
/// <c>sess-2</c>), and once released writes the mutated turn, paced like the recording: each line waits for as many
/// responses as the recorded host had sent before it, or until every request written so far is answered, whichever
/// comes first (so a mutation that loses a request never stalls it). It owes the bridge nothing after that: once every
/// request it wrote is answered it closes its stdout, which ends whatever is still waiting (G5). Every wait is bounded
/// in real time; running into a bound is reported as a hang, never waited out.
/// </summary>
/// <param name="crash">When set, the agent dies mid-turn: before line <c>Unit</c> it writes that line's first <c>Cut</c> bytes with no LF and closes its stdout at once, owed answers or not.</param>
internal sealed class FuzzAgent(IReadOnlyList<FuzzUnit> units, int maxLineBytes, int maxDepth, Action<int> beforeUnit, (int Unit, int Cut)? crash = null)
{
    /// <summary>How long a wait for the bridge may take before it counts as a hang (the bridge runs on fake time: real waits are short).</summary>
    public static readonly TimeSpan HangBound = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _expected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _received = new(StringComparer.Ordinal);
    private readonly List<IReadOnlyList<string>> _recoverable = [];
    private readonly List<long> _malformedLines = [];
    private readonly List<string> _problems = [];
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _expectedTotal;
    private int _receivedTotal;
    private long _wireLines;
    private int _sessions;
    private bool _hung;
    private bool _closed;

    /// <summary>Completes when the turn is written, every request answered, and stdout closed (or the agent was killed).</summary>
    public Task Done => _done.Task;

    public int CancelsSeen { get; private set; }

    public int InternalErrors { get; private set; }

    /// <summary>Wire lines written so far.</summary>
    public long WireLines
    {
        get
        {
            lock (_lock)
            {
                return _wireLines;
            }
        }
    }

    /// <summary>Wire line numbers of the lines the oracle calls malformed.</summary>
    public IReadOnlyList<long> MalformedLines
    {
        get
        {
            lock (_lock)
            {
                return [.. _malformedLines];
            }
        }
    }

    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_lock)
            {
                return [.. _problems];
            }
        }
    }

    /// <summary>Requests written and not answered yet (as many per id as written).</summary>
    public int Unanswered
    {
        get
        {
            lock (_lock)
            {
                return _expected.Sum(e => Math.Max(0, e.Value - _received.GetValueOrDefault(e.Key)));
            }
        }
    }

    /// <summary>The bridge killed the agent before it had written its turn and been answered (escalation, a wedge).</summary>
    public bool KilledEarly { get; private set; }

    /// <summary>The wire line of the closing barrier request (its unknown method is a violation the fuzzer asked for).</summary>
    public long BarrierLine { get; private set; }

    /// <summary>
    /// Ids the bridge answered a different number of times than the agent asked (the key <c>null</c>: unreadable lines).
    /// Answers beyond the owed ones are allowed only as the one answer each broken line with a readable id may get.
    /// </summary>
    public IReadOnlyList<string> AnswerMismatches()
    {
        lock (_lock)
        {
            var mismatches = new List<string>();
            var extra = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var key in _expected.Keys.Union(_received.Keys).Order(StringComparer.Ordinal))
            {
                // An agent that died (or that the bridge killed) is owed nothing more: only answers beyond the owed ones count.
                var (owed, got) = (_expected.GetValueOrDefault(key), _received.GetValueOrDefault(key));
                if (got < owed && crash is null && !KilledEarly)
                {
                    mismatches.Add($"id {key}: {owed} request(s), {got} response(s)");
                }
                else if (got > owed)
                {
                    extra[key] = got - owed;
                }
            }

            // Each broken line with a readable id may account for one extra answer: under one of its ids, or null.
            var free = _recoverable.OrderBy(ids => ids.Count).ToList();
            foreach (var (key, count) in extra.OrderBy(e => e.Key == WireOracle.NullId ? 1 : 0))
            {
                for (var n = 0; n < count; n++)
                {
                    var line = free.FindIndex(ids => key == WireOracle.NullId || ids.Contains(key));
                    if (line < 0)
                    {
                        mismatches.Add($"id {key}: {_expected.GetValueOrDefault(key)} request(s), {_received.GetValueOrDefault(key)} response(s)");
                        break;
                    }

                    free.RemoveAt(line);
                }
            }

            return mismatches;
        }
    }

    /// <summary>Lets the turn be written (the driver has created both sessions by then, so the prompt's id is the recorded one).</summary>
    public void Release() => _release.TrySetResult();

    public async Task RunAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        var writer = Task.CompletedTask;
        try
        {
            var reader = new LineReader(input);
            while (true)
            {
                var read = await reader.ReadLineAsync(cancellationToken);
                if (read.Status == LineReadStatus.EndOfStream)
                {
                    break;
                }

                var (isPrompt, answer) = OnBridgeLine(read.Line.Span);
                if (isPrompt)
                {
                    writer = WriteTurnAsync(output, cancellationToken);
                }
                else if (answer is not null)
                {
                    await WriteAsync(output, Encoding.UTF8.GetBytes(answer), cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Killed: the bridge saw our stdout close, escalated, or stopped us.
            KilledEarly = !_closed;
        }
        finally
        {
            _release.TrySetResult();
            await writer;
            _done.TrySetResult();
        }
    }

    /// <summary>Records a line the bridge wrote: whether it is the prompt, or the answer it needs when it is a handshake request.</summary>
    private (bool IsPrompt, string? Answer) OnBridgeLine(ReadOnlySpan<byte> line)
    {
        using var document = JsonDocument.Parse(line.ToArray());
        var root = document.RootElement;
        if (root.TryGetProperty("method", out var method))
        {
            var requestId = root.TryGetProperty("id", out var i) ? i.GetRawText() : null;
            switch (method.GetString())
            {
                case AcpMethods.Initialize:
                    return (false, $$$"""{"jsonrpc":"2.0","id":{{{requestId}}},"result":{"protocolVersion":1,"agentCapabilities":{"loadSession":false},"agentInfo":{"name":"fuzz-agent"},"authMethods":[]}}""");
                case AcpMethods.SessionNew:
                    return (false, $$$"""{"jsonrpc":"2.0","id":{{{requestId}}},"result":{"sessionId":"sess-{{{++_sessions}}}"}}""");
                case AcpMethods.SessionPrompt:
                    return (true, null);
                case AcpMethods.SessionCancel:
                    CancelsSeen++;
                    break;
            }

            return (false, null);
        }

        var key = root.TryGetProperty("id", out var id) ? WireOracle.IdKey(id) ?? "unreadable" : WireOracle.NullId;
        if (root.TryGetProperty("error", out var error) && error.GetProperty("code").GetInt32() == JsonRpcErrorCodes.InternalError)
        {
            InternalErrors++;
        }

        lock (_lock)
        {
            _received[key] = _received.GetValueOrDefault(key) + 1;
            _receivedTotal++;
            Signal();
        }

        return (false, null);
    }

    private async Task WriteTurnAsync(Stream output, CancellationToken cancellationToken)
    {
        try
        {
            await _release.Task.WaitAsync(HangBound, TimeProvider.System, cancellationToken);
            for (var k = 0; k < units.Count; k++)
            {
                beforeUnit(k);
                var unit = units[k];
                await WaitAsync(() => _receivedTotal >= Math.Min(unit.ResponsesBefore, _expectedTotal), $"{unit.ResponsesBefore} responses before line {k}", cancellationToken);
                if (crash is { } c && c.Unit == k)
                {
                    // The agent dies mid-line: the bridge reads the fragment at end of file, and everything pending must end (G5).
                    await WriteAsync(output, unit.Bytes[..Math.Min(c.Cut, unit.Bytes.Length)], cancellationToken, terminate: false);
                    _closed = true;
                    await output.DisposeAsync();
                    return;
                }

                await WriteAsync(output, unit.Bytes, cancellationToken);
            }

            beforeUnit(units.Count);
            if (crash is not null)
            {
                _closed = true;
                await output.DisposeAsync();
                return;
            }

            await WaitAsync(() => _expected.All(e => _received.GetValueOrDefault(e.Key) >= e.Value), "an answer to every request", cancellationToken);

            // A last request the bridge answers on its reader loop, after everything before it: once its answer is here,
            // so is every answer to the broken lines (answered there too), and any extra answer would have come.
            BarrierLine = _wireLines + 1;
            await WriteAsync(output, """{"jsonrpc":"2.0","id":"fuzz-barrier","method":"fuzz/barrier"}"""u8.ToArray(), cancellationToken);
            await WaitAsync(() => _expected.All(e => _received.GetValueOrDefault(e.Key) >= e.Value), "the barrier's answer", cancellationToken);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or InvalidOperationException or IOException)
        {
            // Killed by the bridge (escalation, a wedge, or after our stdout closed): nothing more to write.
            return;
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                _problems.Add("hang: the turn was never released");
            }
        }

        // Nothing more is owed: closing stdout ends anything the bridge still waits for.
        _closed = true;
        await output.DisposeAsync();
    }

    private async Task WaitAsync(Func<bool> condition, string what, CancellationToken cancellationToken)
    {
        var deadline = Environment.TickCount64 + (long)HangBound.TotalMilliseconds;
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                // After one hang the rest of the case is not waited for: the failure is recorded, the case ends quickly.
                if (_hung || condition())
                {
                    return;
                }

                changed = _changed.Task;
            }

            var left = deadline - Environment.TickCount64;
            try
            {
                await changed.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(left, 0)), cancellationToken);
            }
            catch (TimeoutException)
            {
                lock (_lock)
                {
                    _hung = true;
                    _problems.Add($"hang: waited {HangBound.TotalSeconds:0} s for {what}; still unanswered: {string.Join(", ", _expected.Where(e => _received.GetValueOrDefault(e.Key) < e.Value).Select(e => e.Key))}");
                }

                return;
            }
        }
    }

    /// <summary>Writes one unit and its LF (unless not <paramref name="terminate"/>), noting what the bridge owes for each wire line it makes.</summary>
    private async Task WriteAsync(Stream output, byte[] bytes, CancellationToken cancellationToken, bool terminate = true)
    {
        lock (_lock)
        {
            var rest = bytes.AsSpan();
            while (true)
            {
                var newline = rest.IndexOf((byte)'\n');
                var line = newline < 0 ? rest : rest[..newline];
                if (newline < 0 && !terminate && line.IsEmpty)
                {
                    break; // nothing after the last LF: no line at end of file
                }

                var verdict = WireOracle.Classify(line, maxLineBytes, maxDepth, terminated: newline >= 0 || terminate);
                _wireLines++;
                if (verdict.Malformed)
                {
                    _malformedLines.Add(_wireLines);
                }

                if (verdict.RecoverableIds is { } ids)
                {
                    _recoverable.Add(ids);
                }

                if (verdict.ResponseKey is { } key)
                {
                    _expected[key] = _expected.GetValueOrDefault(key) + 1;
                    _expectedTotal++;
                }

                if (newline < 0)
                {
                    break;
                }

                rest = rest[(newline + 1)..];
            }
        }

        await output.WriteAsync(bytes, cancellationToken);
        if (terminate)
        {
            await output.WriteAsync("\n"u8.ToArray(), cancellationToken);
        }
    }

    private void Signal()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }
}
