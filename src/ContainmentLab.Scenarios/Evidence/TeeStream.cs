namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// The agent's stdout or stdin as the bridge uses it, with every call recorded in a <see cref="TapStream"/> before the
/// bridge sees its result: a read's bytes when it returns, a write's bytes when it begins. Passes everything through
/// unchanged; read-only for stdout, write-only for stdin.
/// </summary>
internal sealed class TeeStream(Stream inner, TapStream tap, Func<TimeSpan> clock, IRawSink? sink) : Stream
{
    private int _closed;

    public override bool CanRead => tap.Direction == TapDirection.FromAgent;

    public override bool CanWrite => tap.Direction == TapDirection.ToAgent;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var call = tap.BeginCall(clock());
        int read;
        try
        {
            read = inner.Read(buffer);
        }
        catch
        {
            tap.EndCall(call, clock(), default, failed: true);
            throw;
        }

        Took(call, buffer[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var call = tap.BeginCall(clock());
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            tap.EndCall(call, clock(), default, failed: true);
            throw;
        }

        Took(call, buffer.Span[..read]);
        return read;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var call = Give(buffer);
        try
        {
            inner.Write(buffer);
        }
        catch
        {
            tap.EndCall(call, clock(), default, failed: true);
            throw;
        }

        tap.EndCall(call, clock(), default);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var call = Give(buffer.Span);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            tap.EndCall(call, clock(), default, failed: true);
            throw;
        }

        tap.EndCall(call, clock(), default);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _closed, 1) == 0)
        {
            if (tap.Direction == TapDirection.ToAgent)
            {
                tap.EndOfStream(clock()); // the bridge closed the agent's stdin
            }

            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            if (tap.Direction == TapDirection.ToAgent)
            {
                tap.EndOfStream(clock());
            }

            await inner.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void Took(int call, ReadOnlySpan<byte> bytes)
    {
        var at = clock();
        tap.EndCall(call, at, bytes);
        if (!bytes.IsEmpty)
        {
            sink?.Raw(tap.Connection, tap.Direction, at, bytes);
        }
    }

    private int Give(ReadOnlySpan<byte> bytes)
    {
        var at = clock();
        var call = tap.BeginCall(at);
        tap.Written(call, at, bytes);
        if (!bytes.IsEmpty)
        {
            sink?.Raw(tap.Connection, tap.Direction, at, bytes);
        }

        return call;
    }
}
