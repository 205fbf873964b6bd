using System.IO.Pipes;

namespace ContainmentLab.Bridge;

/// <summary>
/// A child process's stdout or stderr as the bridge reads it: it ends (a read returns 0) once the process has exited
/// and every byte it wrote has been read, even while a descendant that inherited the pipe keeps its write end open, so
/// end of file never comes (G5: death seen from the process). Nothing it wrote is lost to the end (G9): the end is
/// only declared when a read would wait on an empty pipe — checked at the start of a read, when the reader holds no
/// unread bytes. A read waiting when the process exits is cancelled (a cancelled pipe read takes no bytes) and looks
/// again. Where the pipe cannot be probed (Windows) it reads on, and the bridge's drain bound stops the reader.
/// </summary>
internal sealed class ExitDrainingStream : Stream
{
    private readonly Stream _inner;
    private readonly PipeStream? _pipe;
    private readonly Task _processExited;
    private readonly CancellationTokenSource _exited = new();
    private CancellationToken _linkedFor;
    private CancellationTokenSource? _linked;
    private int _disposed;

    public ExitDrainingStream(Stream inner, Task processExited)
    {
        _inner = inner;
        _pipe = inner as PipeStream;
        _processExited = processExited;
        _ = processExited.ContinueWith(static (_, s) => ((ExitDrainingStream)s!).OnProcessExited(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_processExited.IsCompleted)
            {
                var contents = _pipe is null ? PipeContents.Unknown : NativePipes.Probe(_pipe);
                if (contents == PipeContents.Empty)
                {
                    return 0;
                }

                // Bytes are there (a read returns at once), or we cannot tell.
                return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await _inner.ReadAsync(buffer, LinkedToken(cancellationToken)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _processExited.IsCompleted)
            {
                // The process exited while we waited: look whether anything is left.
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // The inner stream belongs to the process; only our token sources are ours.
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _linked?.Dispose();
            _exited.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The caller's token joined with the exit; one source per caller token (the reader passes the same one each time).</summary>
    private CancellationToken LinkedToken(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return _exited.Token;
        }

        if (_linked is null || _linkedFor != cancellationToken)
        {
            _linked?.Dispose();
            _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _exited.Token);
            _linkedFor = cancellationToken;
        }

        return _linked.Token;
    }

    private void OnProcessExited()
    {
        try
        {
            _exited.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed first: nobody reads any more.
        }
    }
}
