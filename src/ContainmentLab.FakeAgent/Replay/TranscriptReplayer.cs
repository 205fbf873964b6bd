using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ContainmentLab.Protocol;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// Plays the agent side of a <see cref="Transcript"/> to a live host: each recorded agent line (<c>in</c>) is written
/// once the host has sent every line it had sent before it in the recording (<c>out</c> lines before it), matched by
/// JSON-RPC shape (<see cref="WireShape"/>) in any order. The host drives the replay, not the clock; the clock only
/// bounds how long a stuck replay waits (<see cref="ReplayOptions.StallTimeout"/>).
/// </summary>
/// <remarks>
/// Divergences (the host does something else than in the recording) are logged — the first one in full, then only
/// counted — and the replay goes on: a host line that matches no recorded line is ignored; a host request whose id
/// differs from the recording is matched by method and session, and the agent's answer carries the host's id; a
/// response with another outcome (error vs result) still counts as the recorded one; recorded host lines the host does
/// not send within the stall timeout are given up. When the input ends, agent lines still waiting are not written.
/// </remarks>
public sealed class TranscriptReplayer
{
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly TimeProvider _timeProvider;
    private readonly TextWriter _log;
    private readonly TimeSpan _stallTimeout;
    private readonly string _source;

    // Host lines the transcript expects, in transcript order, and the agent lines with how many of them come first.
    private readonly Expected[] _expected;
    private readonly AgentLine[] _agentLines;

    // Guarded by _gate: matching state shared by the read loop (host lines) and the write loop (agent lines).
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Queue<int>> _unmatchedByKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _idMap = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = NewSignal();
    private int _satisfied;
    private bool _inputEnded;
    private int _divergences;
    private string? _firstDivergence;
    private int _linesWritten;
    private int _started;

    public TranscriptReplayer(Transcript transcript, Stream input, Stream output, TimeProvider timeProvider, TextWriter? log = null, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _input = input;
        _output = output;
        _timeProvider = timeProvider;
        _log = log is null ? TextWriter.Null : TextWriter.Synchronized(log);
        _stallTimeout = (options ?? new ReplayOptions()).StallTimeout;
        _source = transcript.Source;

        var expected = new List<Expected>();
        var agentLines = new List<AgentLine>();
        foreach (var entry in transcript.Entries)
        {
            switch (entry.Direction)
            {
                case TranscriptDirection.Out:
                    var shape = WireShape.Of(Encoding.UTF8.GetBytes(entry.Line!));
                    if (!_unmatchedByKey.TryGetValue(shape.Key, out var queue))
                    {
                        _unmatchedByKey[shape.Key] = queue = new Queue<int>();
                    }

                    queue.Enqueue(expected.Count);
                    expected.Add(new Expected(entry.LineNumber, shape));
                    break;
                case TranscriptDirection.In:
                    agentLines.Add(new AgentLine(entry.LineNumber, entry.Line!, WireShape.Of(Encoding.UTF8.GetBytes(entry.Line!)), expected.Count));
                    break;
            }
        }

        _expected = [.. expected];
        _agentLines = [.. agentLines];
    }

    /// <summary>Agent lines written so far.</summary>
    public int LinesWritten => Volatile.Read(ref _linesWritten);

    /// <summary>The agent lines in the transcript.</summary>
    public int AgentLineCount => _agentLines.Length;

    /// <summary>How many times the host did something else than in the transcript.</summary>
    public int DivergenceCount
    {
        get
        {
            lock (_gate)
            {
                return _divergences;
            }
        }
    }

    /// <summary>The first divergence as logged, or null.</summary>
    public string? FirstDivergence
    {
        get
        {
            lock (_gate)
            {
                return _firstDivergence;
            }
        }
    }

    /// <summary>
    /// Replays until the input ends (then agent lines still waiting are dropped) or the token is cancelled; it does not
    /// throw on cancellation. Every agent line written before the input ends is flushed. Runs once per replayer.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync runs once per replayer.");
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writer = WriteLoopAsync(stop.Token);
        try
        {
            await ReadLoopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Cancelled by the caller or because the output broke.
        }
        catch (IOException ex)
        {
            Log($"input failed: {ex.Message}");
        }
        finally
        {
            lock (_gate)
            {
                _inputEnded = true;
                Signal();
            }

            await writer.ConfigureAwait(false);
        }

        lock (_gate)
        {
            var missing = _expected.Count(e => e.State == ExpectedState.Pending);
            if (missing > 0 && LinesWritten == _agentLines.Length && !cancellationToken.IsCancellationRequested)
            {
                var first = _expected.First(e => e.State == ExpectedState.Pending);
                Diverge(first.LineNumber, $"the host never sent {first.Shape}" + (missing > 1 ? $" (nor {missing - 1} more recorded host lines)" : string.Empty));
            }

            Log($"replayed {LinesWritten} of {_agentLines.Length} agent lines; {_divergences} divergence(s)");
        }
    }

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var reader = new LineReader(_input);
        while (true)
        {
            var read = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (read.Status == LineReadStatus.EndOfStream)
            {
                Log("input ended");
                return;
            }

            if (read.Status == LineReadStatus.Oversize)
            {
                Log($"line {read.LineNumber}: skipped an oversize line of {read.Length} bytes");
                continue;
            }

            var shape = WireShape.Of(read.Line.Span);
            lock (_gate)
            {
                Match(shape, read.LineNumber);
                Signal();
            }
        }
    }

    /// <summary>Finds the recorded host line this one is (caller holds <see cref="_gate"/>).</summary>
    private void Match(WireShape shape, long wireLine)
    {
        if (_unmatchedByKey.TryGetValue(shape.Key, out var queue) && queue.Count > 0)
        {
            var index = queue.Dequeue();
            var expected = _expected[index];
            if (expected.Shape.IsError != shape.IsError)
            {
                Diverge(expected.LineNumber, $"host line {wireLine} is {shape}, recorded as {expected.Shape}");
            }

            MarkMatched(index);
            return;
        }

        // A new run numbered its requests differently (an extra or a missing request earlier): take the earliest
        // unmatched recorded request of the same method and session, and answer with the host's id.
        if (shape.Kind == WireShapeKind.Request)
        {
            for (var i = 0; i < _expected.Length; i++)
            {
                var candidate = _expected[i];
                if (candidate.State != ExpectedState.Matched && candidate.Shape.Kind == WireShapeKind.Request
                    && candidate.Shape.Method == shape.Method)
                {
                    _unmatchedByKey[candidate.Shape.Key].Dequeue();
                    _idMap[candidate.Shape.Id!] = shape.Id!;
                    Diverge(candidate.LineNumber, $"host line {wireLine} is {shape}, recorded with id={candidate.Shape.Id}; the agent answers id={shape.Id}");
                    MarkMatched(i);
                    return;
                }
            }
        }

        Diverge(null, $"host line {wireLine} ({shape}) is not in the transcript; ignored");
    }

    private void MarkMatched(int index)
    {
        // Same-key lines are matched in transcript order, so the queue head is always the one dequeued: no removal
        // from the middle is needed, including for lines given up earlier (they stay queued and can still arrive late).
        _expected[index].State = ExpectedState.Matched;
        AdvanceSatisfied();
    }

    private void AdvanceSatisfied()
    {
        while (_satisfied < _expected.Length && _expected[_satisfied].State != ExpectedState.Pending)
        {
            _satisfied++;
        }
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var line in _agentLines)
            {
                if (!await WaitForHostAsync(line, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                var bytes = Encoding.UTF8.GetBytes(Rewrite(line) + "\n");
                await _output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _linesWritten);
            }

            Log($"all {_agentLines.Length} agent lines written");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log($"output failed: {ex.Message}");
        }
    }

    /// <summary>True once the host lines <paramref name="line"/> depends on arrived or were given up; false when the input ended first.</summary>
    private async Task<bool> WaitForHostAsync(AgentLine line, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_satisfied >= line.HostLinesBefore)
                {
                    return true;
                }

                if (_inputEnded)
                {
                    var missing = _expected[_satisfied];
                    Diverge(missing.LineNumber, $"the input ended before the host sent {missing.Shape}; {_agentLines.Length - LinesWritten} agent lines from transcript line {line.LineNumber} on are not written");
                    return false;
                }

                changed = _changed.Task;
            }

            if (_stallTimeout == Timeout.InfiniteTimeSpan)
            {
                await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            // Any host line restarts the wait: only a silent host is given up on.
            using var delayStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(_stallTimeout, _timeProvider, delayStop.Token);
            var first = await Task.WhenAny(changed, delay).ConfigureAwait(false);
            await delayStop.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (first == delay)
            {
                GiveUp(line);
            }
        }
    }

    private void GiveUp(AgentLine line)
    {
        lock (_gate)
        {
            if (_satisfied >= line.HostLinesBefore)
            {
                return;
            }

            var first = _expected[_satisfied];
            var count = 0;
            for (var i = _satisfied; i < line.HostLinesBefore; i++)
            {
                if (_expected[i].State == ExpectedState.Pending)
                {
                    _expected[i].State = ExpectedState.GivenUp;
                    count++;
                }
            }

            Diverge(first.LineNumber, $"the host has not sent {first.Shape}" + (count > 1 ? $" (nor {count - 1} more)" : string.Empty)
                + $" after {FormatSeconds(_stallTimeout)} of silence; writing transcript line {line.LineNumber} anyway");
            AdvanceSatisfied();
        }
    }

    /// <summary>An answer to a host request the host numbered differently now carries the host's id.</summary>
    private string Rewrite(AgentLine line)
    {
        string? hostId;
        lock (_gate)
        {
            if (line.Shape.Kind != WireShapeKind.Response || !_idMap.TryGetValue(line.Shape.Id!, out hostId))
            {
                return line.Text;
            }
        }

        var node = JsonNode.Parse(line.Text)!.AsObject();
        node["id"] = JsonNode.Parse(hostId);
        return node.ToJsonString();
    }

    /// <summary>Counts a divergence and logs it if it is the first (caller holds <see cref="_gate"/>).</summary>
    private void Diverge(long? transcriptLine, string what)
    {
        _divergences++;
        if (_firstDivergence is null)
        {
            var place = transcriptLine is { } n ? $"{_source}:{n.ToString(CultureInfo.InvariantCulture)}: " : string.Empty;
            _firstDivergence = place + what;
            Log($"first divergence: {_firstDivergence} (later ones are only counted)");
        }
    }

    private void Signal()
    {
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
    }

    private void Log(string message) => _log.WriteLine("fake-agent replay: " + message);

    private static string FormatSeconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Expected(long lineNumber, WireShape shape)
    {
        public long LineNumber { get; } = lineNumber;

        public WireShape Shape { get; } = shape;

        public ExpectedState State { get; set; }
    }

    private sealed record AgentLine(long LineNumber, string Text, WireShape Shape, int HostLinesBefore);

    private enum ExpectedState
    {
        Pending,
        Matched,
        GivenUp,
    }
}
