using System.Collections.Concurrent;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using ContainmentLab.Protocol;
using Microsoft.Extensions.Logging;

namespace ContainmentLab.Bridge;

/// <summary>
/// JSON-RPC over an agent's stdio: one reader loop, one writer loop fed by a channel (so nothing ever waits on the
/// pipe but the writer itself), and correlation of the bridge's own requests with the agent's responses.
/// </summary>
internal sealed partial class Connection : IAsyncDisposable
{
    private readonly IAgentTransport _transport;
    private readonly FramingOptions _framing;
    private readonly IConnectionHandler _handler;
    private readonly IWireTap? _tap;
    private readonly ILogger _logger;
    private readonly MessageParser _parser;
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<RpcId, TaskCompletionSource<IncomingMessage>> _pending = new();
    private readonly ConcurrentDictionary<Task, byte> _handling = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readerLoop = Task.CompletedTask;
    private Task _writerLoop = Task.CompletedTask;
    private long _nextId = -1;
    private Exception? _failure;

    /// <summary>
    /// Past this many lines queued for the agent, error answers that name no request (id null: the line was unreadable)
    /// are dropped, the violation still reported. An agent that floods garbage and stops reading must not make the
    /// host queue one answer per line until the write stall kills it (G9: bounded memory); no request waits on these.
    /// </summary>
    internal const int MaxQueuedAnonymousErrors = 1024;

    private readonly TimeProvider _time;
    private readonly TimeSpan _writeStallTimeout;
    private readonly ITimer _stallTimer;
    private int _wedged;
    private int _queued;
    private int _disposed;
    private long _writeStarted;

    public Connection(IAgentTransport transport, FramingOptions framing, IConnectionHandler handler, IWireTap? tap, ILogger logger, TimeProvider timeProvider, TimeSpan writeStallTimeout)
    {
        _time = timeProvider;
        _writeStallTimeout = writeStallTimeout;
        _stallTimer = timeProvider.CreateTimer(static s => ((Connection)s!).OnWriteStalled(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _transport = transport;
        _framing = framing;
        _handler = handler;
        _tap = tap;
        _logger = logger;
        _parser = new MessageParser(framing.MaxDepth);
        _writeStarted = timeProvider.GetTimestamp();
    }

    /// <summary>Completes, with the reason, when the agent's output ended or the connection was stopped.</summary>
    public Task<string> Closed => _closed.Task;

    public bool IsClosed => _closed.Task.IsCompleted;

    public void Start()
    {
        _readerLoop = Task.Run(ReadLoopAsync);
        _writerLoop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Sends a request; the task completes with the agent's response (result or error) or faults when the agent is gone.</summary>
    /// <param name="completeInline">
    /// Run the response's continuations on the thread that completes it (the reader loop) instead of queueing them: for
    /// the bridge's own short, non-blocking observers only (a turn's end), never for a task a caller awaits. It saves a
    /// thread-pool hop on the way from the agent's ack to the turn's completion.
    /// </param>
    public (RpcId Id, Task<IncomingMessage> Response) BeginRequest<T>(string method, T parameters, JsonTypeInfo<T> typeInfo, bool completeInline = false)
    {
        var id = RpcId.FromNumber(Interlocked.Increment(ref _nextId));
        var source = new TaskCompletionSource<IncomingMessage>(completeInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = source;
        if (_failure is { } failure)
        {
            // Closed already: fail at once rather than wait for an answer that cannot come.
            _pending.TryRemove(id, out _);
            source.TrySetException(failure);
        }
        else
        {
            Enqueue(MessageWriter.Request(id, method, parameters, typeInfo));
        }

        return (id, source.Task);
    }

    /// <summary>Queues a line for the writer; never blocks. False when the connection is closed.</summary>
    public bool Enqueue(byte[] line)
    {
        // Counted by hand: the single-reader unbounded channel cannot count its items.
        Interlocked.Increment(ref _queued);
        if (!_outgoing.Writer.TryWrite(line))
        {
            Interlocked.Decrement(ref _queued);
            return false;
        }

        // G9: a flood of bad lines from an agent that does not read must not queue their answers without bound while the
        // stall timer runs. A backlog this long is a stalled writer already: the agent is wedged (G6).
        if (Volatile.Read(ref _queued) > _framing.MaxQueuedLines)
        {
            OnWedged(_time.GetElapsedTime(Interlocked.Read(ref _writeStarted)));
        }

        return true;
    }

    /// <summary>Fails every request still waiting for the agent, now and later.</summary>
    public void FailPending(Exception failure)
    {
        Interlocked.CompareExchange(ref _failure, failure, null);
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var source))
            {
                source.TrySetException(_failure);
            }
        }
    }

    /// <summary>Lines queued for the agent and not yet written.</summary>
    public int QueuedLines => Volatile.Read(ref _queued);

    private void OnWriteStalled() => OnWedged(_writeStallTimeout);

    private void OnWedged(TimeSpan stalled)
    {
        if (Interlocked.Exchange(ref _wedged, 1) == 0 && !IsClosed)
        {
            _handler.OnWedged(stalled, QueuedLines);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stallTimer.Dispose();
        _outgoing.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        _closed.TrySetResult("the connection was stopped");
        FailPending(new AgentExitedException("the connection to the agent was closed"));
        try
        {
            await Task.WhenAll(_readerLoop, _writerLoop).WaitAsync(TimeSpan.FromSeconds(2), TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A read stuck in the OS on a pipe nobody closes: the transport's kill ends it; we don't wait for ever.
        }

        try
        {
            // G8: a request still being handled (a tool the bridge already cancelled, finishing) writes its terminal audit
            // record before the host goes on to close its audit log; otherwise the file shows it dispatched, never ended.
            await Task.WhenAll(_handling.Keys).WaitAsync(TimeSpan.FromSeconds(2), TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A tool that ignores its cancellation: it ends on its own; the host does not wait for ever.
        }

        _stop.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var reader = new LineReader(_transport.Output, _framing.MaxLineBytes);
        var reason = "the agent closed its stdout";
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var read = await reader.ReadLineAsync(_stop.Token).ConfigureAwait(false);
                if (read.Status == LineReadStatus.EndOfStream)
                {
                    break;
                }

                if (read.Status == LineReadStatus.Oversize)
                {
                    _tap?.Received(read.LineNumber, default);
                    _handler.OnViolation(read.LineNumber, $"line of {read.Length} bytes exceeds the {_framing.MaxLineBytes}-byte limit; skipped");
                    OnOversize(read);
                    continue;
                }

                _tap?.Received(read.LineNumber, read.Line.Span);
                if (read.Line.Length == 0)
                {
                    continue;
                }

                // A request's params are borrowed from the parser's pooled copy of the line (no copy per call): they are
                // valid until the request is answered, when RespondAsync gives the lease back. Nothing that outlives the
                // answer may keep a JsonElement of a request (Clone it).
                var parsed = _parser.ParseBorrowingRequestParams(read.Line, read.LineNumber, out var lease);
                Route(parsed, read.LineNumber, lease);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            reason = "the connection was stopped";
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            reason = "reading the agent's stdout failed: " + ex.Message;
        }

        LogReaderEnded(_logger, reason);
        _closed.TrySetResult(reason);
    }

    /// <summary>
    /// A line too long to parse still gets its answer when its head shows whose it is: a request is answered under its
    /// id (else with a null id); a response to one of ours completes that request with an error instead of leaving it
    /// waiting for an answer that was skipped.
    /// </summary>
    private void OnOversize(LineReadResult read)
    {
        var (id, hasMethod) = RequestRecovery.Recover(read.Head.Span);
        var error = $"line {read.LineNumber} exceeds the {_framing.MaxLineBytes}-byte limit";
        if (id is { } recovered && !hasMethod)
        {
            if (_pending.TryRemove(recovered, out var source))
            {
                var failed = new IncomingMessage(MessageKind.Response, recovered, null, default, default, new RpcError(JsonRpcErrorCodes.InvalidRequest, "the response " + error), read.LineNumber);
                _handler.OnResponse(failed);
                source.TrySetResult(failed);
            }

            return;
        }

        EnqueueError(id, JsonRpcErrorCodes.InvalidRequest, error);
    }

    private void EnqueueError(RpcId? id, int code, string message)
    {
        if (id is null && QueuedLines >= MaxQueuedAnonymousErrors)
        {
            return;
        }

        Enqueue(MessageWriter.Error(id, code, message));
    }

    private void Route(ParseOutcome parsed, long lineNumber, IDisposable? lease)
    {
        if (parsed.Message is not { Kind: MessageKind.Request })
        {
            // Only requests are lent out; nothing else keeps the document.
            lease?.Dispose();
        }

        if (parsed.Message is not { } message)
        {
            _handler.OnViolation(lineNumber, parsed.Error!);

            // Answer anything that may have been a request (JSON-RPC: id null when it could not be read); never answer a bad response.
            if (parsed.WasRequest || parsed.RecoveredId is null)
            {
                EnqueueError(parsed.RecoveredId, parsed.ErrorCode, $"line {lineNumber}: {parsed.Error}");
            }

            return;
        }

        switch (message.Kind)
        {
            case MessageKind.Response:
                if (_pending.TryRemove(message.Id!.Value, out var source))
                {
                    _handler.OnResponse(message);
                    source.TrySetResult(message);
                }
                else
                {
                    _handler.OnViolation(lineNumber, $"response to an unknown or already answered request id {message.Id}");
                }

                break;
            case MessageKind.Request:
                Track(RespondAsync(message, lease));
                break;
            default:
                _handler.OnNotification(message);
                break;
        }
    }

    /// <summary>Keeps a request's handling until it ends, so disposal can wait for it.</summary>
    private void Track(Task handling)
    {
        if (handling.IsCompleted)
        {
            return;
        }

        _handling.TryAdd(handling, 0);
        _ = handling.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _handling, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RespondAsync(IncomingMessage request, IDisposable? lease)
    {
        byte[] response;
        try
        {
            response = await _handler.OnRequestAsync(request).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A handler bug still answers the agent: it must never be left waiting.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogHandlerFailed(_logger, ex, request.Method);
            response = MessageWriter.Error(request.Id, JsonRpcErrorCodes.InternalError, "internal error: " + ex.Message);
        }
        finally
        {
            // Answered: nothing reads the request's params any more.
            lease?.Dispose();
        }

        Enqueue(response);
    }

    private async Task WriteLoopAsync()
    {
        var stream = _transport.Input;
        try
        {
            while (await _outgoing.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (_outgoing.Reader.TryRead(out var line))
                {
                    Interlocked.Decrement(ref _queued);
                    Interlocked.Exchange(ref _writeStarted, _time.GetTimestamp());
                    _tap?.Sent(line);

                    // Every write must make progress within the stall timeout, or the agent is wedged (G6). Once bytes are
                    // queued for the pipe, only the connection's own stop may abort the write.
                    await WithinStallTimeoutAsync(stream.WriteAsync(line, _stop.Token)).ConfigureAwait(false);
                }

                await WithinStallTimeoutAsync(new ValueTask(stream.FlushAsync(_stop.Token))).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // The agent's stdin is gone (it exited): the reader loop sees the end of its output.
            LogWriteFailed(_logger, ex.Message);
        }
    }

    /// <summary>
    /// Awaits one write or flush under the stall timer. The timer is armed only when the operation waits: one that
    /// completed at once made progress by definition, and an armed timer around it could only misfire (a fake clock
    /// that jumps while the writer thread is between the write and the disarm took instant writes for stalls).
    /// </summary>
    private async ValueTask WithinStallTimeoutAsync(ValueTask operation)
    {
        if (operation.IsCompleted)
        {
            await operation.ConfigureAwait(false);
            return;
        }

        _stallTimer.Change(_writeStallTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            await operation.ConfigureAwait(false);
        }
        finally
        {
            _stallTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Agent reader loop ended: {Reason}")]
    private static partial void LogReaderEnded(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling {Method} failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string? method);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Writing to the agent failed: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string reason);
}
