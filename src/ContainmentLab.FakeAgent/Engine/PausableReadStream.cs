namespace ContainmentLab.FakeAgent;

/// <summary>
/// The engine's input with a gate (<c>stop_reading</c>, <c>close_stdout</c>): while paused, no read reaches the inner
/// stream, so the peer's writes pile up in the pipe until it is full. A read already waiting when the pause starts is
/// cancelled; a stream that cannot cancel it (the Unix console stream) delivers at most one buffer, which is held back
/// until the pause ends.
/// </summary>
internal sealed class PausableReadStream(Stream inner) : Stream
{
    private readonly Lock _gate = new();
    private int _pauses;
    private TaskCompletionSource _open = CompletedSource();
    private CancellationTokenSource _pausing = new();

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>True while at least one pause is in force.</summary>
    public bool IsPaused
    {
        get
        {
            lock (_gate)
            {
                return _pauses > 0;
            }
        }
    }

    /// <summary>Stops reading until a matching <see cref="Resume"/> (pauses nest).</summary>
    public void Pause()
    {
        CancellationTokenSource? interrupt = null;
        lock (_gate)
        {
            if (_pauses++ == 0)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                interrupt = _pausing;
                _pausing = new CancellationTokenSource();
            }
        }

        // Outside the lock: cancelling runs the waiting read's callbacks.
        interrupt?.Cancel();
        interrupt?.Dispose();
    }

    public void Resume()
    {
        TaskCompletionSource? open = null;
        lock (_gate)
        {
            if (_pauses > 0 && --_pauses == 0)
            {
                open = _open;
            }
        }

        open?.TrySetResult();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task open;
            CancellationToken pausing;
            lock (_gate)
            {
                open = _open.Task;
                pausing = _pausing.Token;
            }

            await open.WaitAsync(cancellationToken).ConfigureAwait(false);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, pausing);
            int read;
            try
            {
                read = await inner.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (pausing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                continue;
            }

            lock (_gate)
            {
                open = _open.Task;
            }

            await open.WaitAsync(cancellationToken).ConfigureAwait(false);
            return read;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the engine reads asynchronously");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_gate)
            {
                _pausing.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
