using System.Buffers;
using System.Text;
using System.Text.Json;
using ContainmentLab.Events;

namespace ContainmentLab.Dispatch;

/// <summary>
/// The append-only audit log: JSON Lines with a monotonic sequence number, kept in memory and, when a store is given
/// (a file path, or any writable stream), in that store. Sequence numbers are assigned under one lock, in store order,
/// so the log's order is the order in which gates were passed and closed.
/// </summary>
/// <remarks>
/// <para>
/// What happens when (the rules a host relies on, G8):
/// <list type="bullet">
/// <item><b>Appended</b>: every record, at once, in memory (<see cref="Snapshot"/>) and serialized into an in-process
/// buffer. Appending never touches the store, so it never waits on the disk and never fails because of it: the gate
/// closes, and Stop proceeds, whatever the disk does.</item>
/// <item><b>Written to the OS</b> (one <c>write(2)</c> of everything pending; the file is opened unbuffered): by
/// <see cref="FlushThrough"/> before a host tool runs (its <c>dispatched</c> record and every record before it), by the
/// flush an interrupt queues on the thread pool, and by <see cref="Dispose"/>. Records that follow (a terminal record,
/// <c>began</c>) go out with the next of these. What was written survives the host process being killed.</item>
/// <item><b>Synced to disk</b> (<c>fsync</c>): by the interrupt's flush (<c>Flush(toDisk: true)</c>, off the Stop path) and
/// by <see cref="Dispose"/>. What was synced survives the machine losing power.</item>
/// </list>
/// </para>
/// <para>
/// When the store fails (ENOSPC, EIO, a closed pipe), nothing is lost in memory: the unwritten bytes are kept and
/// written again, in order, on the next flush; <see cref="Unstored"/> lists the records not in the store. The first
/// failure of an episode publishes <see cref="AuditFailed"/>, the first write that succeeds after it
/// <see cref="AuditRecovered"/>. A record torn by a failing write is cut off again on a seekable store, so the file holds
/// each record once, whole; on a stream that cannot seek (a pipe) the retry starts on a new line.
/// </para>
/// </remarks>
public sealed class AuditLog : IDisposable
{
    // Two locks, always taken in this order when both are: _storeLock (one writer to the store at a time, held across the
    // write syscall) and _lock (records, sequence numbers, pending bytes: held only for in-memory work). Append takes only
    // _lock, so the gate's Close never waits for a write to the disk.
    private readonly Lock _storeLock = new();
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly EventHub? _events;
    private readonly List<AuditRecord> _records = [];
    private readonly Stream? _store;

    // The record is serialized as UTF-8 into _line (a scratch buffer, so a record that cannot be serialized leaves nothing
    // half-written), then copied into _pending. Under _lock.
    private readonly ArrayBufferWriter<byte>? _line;
    private readonly Utf8JsonWriter? _lineWriter;
    private ArrayBufferWriter<byte>? _pending;
    private long _pendingThroughSeq;

    // Under _storeLock: bytes taken from _pending for the store and not yet in it (kept across failures, retried).
    private ArrayBufferWriter<byte>? _writing;
    private long _writingThroughSeq;
    private long _storedLength;
    private bool _retryOnNewLine;
    private AuditStoreFailure? _failure;
    private int _episodes;

    private long _seq;
    private long _storedThroughSeq;
    private bool _disposed;

    /// <summary>An audit log in memory and, when <paramref name="path"/> is given, appended to that file.</summary>
    /// <param name="events">Where <see cref="AuditFailed"/> and <see cref="AuditRecovered"/> are published.</param>
    public AuditLog(TimeProvider timeProvider, string? path = null, EventHub? events = null)
        : this(path is null ? null : OpenFile(path), path, timeProvider, events)
    {
    }

    /// <summary>An audit log in memory and in <paramref name="store"/> (owned by the log: disposed with it).</summary>
    /// <param name="name">How the store is named in failures (a path, a URI); null for none.</param>
    public AuditLog(TimeProvider timeProvider, Stream store, string? name, EventHub? events = null)
        : this(store ?? throw new ArgumentNullException(nameof(store)), name, timeProvider, events)
    {
    }

    private AuditLog(Stream? store, string? name, TimeProvider timeProvider, EventHub? events)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        _events = events;
        Path = name;
        if (store is not null)
        {
            if (!store.CanWrite)
            {
                throw new ArgumentException("the audit store must be writable", nameof(store));
            }

            _store = store;
            _storedLength = store.CanSeek ? store.Position : 0;
            _line = new ArrayBufferWriter<byte>(256);
            _lineWriter = new Utf8JsonWriter(_line);
            _pending = new ArrayBufferWriter<byte>(4096);
            _writing = new ArrayBufferWriter<byte>(4096);
        }
    }

    /// <summary>The store's name (the file's path), or null for a log kept in memory only.</summary>
    public string? Path { get; }

    /// <summary>The last sequence number handed out.</summary>
    public long LastSeq => Volatile.Read(ref _seq);

    /// <summary>Every record up to this sequence number is in the store (written to the OS); for a log without a store, <see cref="LastSeq"/>.</summary>
    public long StoredThroughSeq => _store is null ? LastSeq : Volatile.Read(ref _storedThroughSeq);

    /// <summary>The store's current failure, or null while it works (or there is none).</summary>
    public AuditStoreFailure? Failure
    {
        get
        {
            lock (_storeLock)
            {
                return _failure;
            }
        }
    }

    /// <summary>How many times the store started failing (each one published one <see cref="AuditFailed"/>).</summary>
    public int FailureEpisodes => Volatile.Read(ref _episodes);

    public AuditRecord Append(AuditKind kind, string? sessionId, string? toolCallId = null, string? tool = null, string? requestId = null, string? detail = null)
    {
        lock (_lock)
        {
            var record = new AuditRecord(++_seq, _timeProvider.GetUtcNow(), kind, sessionId, toolCallId, tool, requestId, detail);
            _records.Add(record);
            if (_pending is not null && !_disposed)
            {
                SerializeLine(record);
                _pending.Write(_line!.WrittenSpan);
                _pendingThroughSeq = record.Seq;
            }

            return record;
        }
    }

    /// <summary>
    /// Writes every record appended so far to the store (to the OS; with <paramref name="toDisk"/>, synced to the disk too).
    /// Never throws for the store's sake: false when the store failed (the records stay in memory and are written again on
    /// the next flush). True for a log without a store.
    /// </summary>
    public bool Flush(bool toDisk = false) => FlushThrough(long.MaxValue, toDisk);

    /// <summary>
    /// Writes the records up to <paramref name="seq"/> (and any after it that are pending) to the store, unless they are
    /// there already. True once every record up to <paramref name="seq"/> is in the store. A host tool runs only if this
    /// is true for its <c>dispatched</c> record.
    /// </summary>
    public bool FlushThrough(long seq, bool toDisk = false)
    {
        if (_store is null)
        {
            return true;
        }

        ContainmentEvent? published = null;
        bool stored;
        lock (_storeLock)
        {
            var target = Math.Min(seq, LastSeq);
            if ((Volatile.Read(ref _storedThroughSeq) >= target && !toDisk) || _disposed)
            {
                // Disposed (a flush queued by an interrupt can run after the bridge closed its log): the store is closed.
                return Volatile.Read(ref _storedThroughSeq) >= target;
            }

            TakePending();
            if (_writing!.WrittenCount > 0 || toDisk)
            {
                published = Write(toDisk);
            }

            stored = Volatile.Read(ref _storedThroughSeq) >= target;
        }

        if (published is not null)
        {
            _events?.Publish(published);
        }

        return stored;
    }

    /// <summary>A snapshot of every record so far, in sequence order.</summary>
    public IReadOnlyList<AuditRecord> Snapshot()
    {
        lock (_lock)
        {
            return [.. _records];
        }
    }

    /// <summary>The records not (yet) in the store, in sequence order: empty when every record reached it, or there is no store.</summary>
    public IReadOnlyList<AuditRecord> Unstored()
    {
        if (_store is null)
        {
            return [];
        }

        lock (_lock)
        {
            // Sequence numbers are 1-based and dense: record n is at index n - 1.
            var stored = (int)Math.Min(Volatile.Read(ref _storedThroughSeq), _records.Count);
            return _records.GetRange(stored, _records.Count - stored);
        }
    }

    public static string Serialize(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteRecord(writer, record, sanitize: NeedsSanitizing(record));
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads an audit file back (for tools and tests that check a log after the fact).</summary>
    public static IReadOnlyList<AuditRecord> ReadFile(string path)
    {
        var records = new List<AuditRecord>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                records.Add(new AuditRecord(
                    root.GetProperty("seq").GetInt64(),
                    root.GetProperty("at").GetDateTimeOffset(),
                    AuditKinds.Parse(root.GetProperty("kind").GetString()!),
                    Optional(root, "sessionId"),
                    Optional(root, "toolCallId"),
                    Optional(root, "tool"),
                    Optional(root, "requestId"),
                    Optional(root, "detail")));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
            {
                throw new FormatException($"{path}:{lineNumber}: not an audit record: {ex.Message}", ex);
            }
        }

        return records;
    }

    /// <summary>Writes and syncs what is pending, then closes the store. Never throws for the store's sake; records appended later stay in memory only.</summary>
    public void Dispose()
    {
        ContainmentEvent? published = null;
        lock (_storeLock)
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
            }

            if (_store is not null)
            {
                TakePending();
                published = Write(toDisk: true);
            }

            lock (_lock)
            {
                _disposed = true;
                _lineWriter?.Dispose();
            }

            try
            {
                // Unbuffered: nothing is left to write, so closing cannot fail on a full disk.
                _store?.Dispose();
            }
            catch (IOException)
            {
                // A store that fails even to close: its failure is already reported, and the records are in memory.
            }
        }

        if (published is not null)
        {
            _events?.Publish(published);
        }
    }

    private static FileStream OpenFile(string path) =>
        // Unbuffered (bufferSize 0): our own buffer decides what is written when, and a failed write leaves no hidden
        // buffer that would throw again from every later write, or from Dispose.
        new(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.None);

    /// <summary>Under _storeLock: moves what Append serialized since the last flush behind what is still to be written.</summary>
    private void TakePending()
    {
        lock (_lock)
        {
            if (_pending!.WrittenCount == 0)
            {
                return;
            }

            if (_writing!.WrittenCount == 0)
            {
                // The common case: swap the buffers, no copy.
                (_pending, _writing) = (_writing, _pending);
            }
            else
            {
                _writing.Write(_pending.WrittenSpan);
                _pending.ResetWrittenCount();
            }

            _writingThroughSeq = _pendingThroughSeq;
        }
    }

    /// <summary>Under _storeLock: one attempt to put _writing into the store. Returns the event to publish (outside the lock), if any.</summary>
    private ContainmentEvent? Write(bool toDisk)
    {
        var store = _store!;
        try
        {
            if (_writing!.WrittenCount > 0)
            {
                if (_retryOnNewLine)
                {
                    // A stream we cannot seek may hold the front of a record a failed write tore: end that fragment, so
                    // the records written now stay whole lines (an empty line, if nothing was torn, is skipped by readers).
                    store.Write("\n"u8);
                    _retryOnNewLine = false;
                }

                store.Write(_writing.WrittenSpan);
                _storedLength += _writing.WrittenCount;
                _writing.ResetWrittenCount();
                Volatile.Write(ref _storedThroughSeq, _writingThroughSeq);
            }

            store.Flush();
            if (toDisk && store is FileStream file)
            {
                file.Flush(flushToDisk: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ObjectDisposedException)
        {
            Rewind(store);
            if (_failure is not null)
            {
                return null;
            }

            _failure = new AuditStoreFailure(_timeProvider.GetUtcNow(), ex.Message, ex.HResult, Volatile.Read(ref _storedThroughSeq) + 1);
            Interlocked.Increment(ref _episodes);
            return new AuditFailed(_failure.At, Path, _failure.Error, _failure.ErrorCode, _failure.FirstUnstoredSeq);
        }

        if (_failure is null)
        {
            return null;
        }

        _failure = null;
        return new AuditRecovered(_timeProvider.GetUtcNow(), Path, Volatile.Read(ref _storedThroughSeq));
    }

    /// <summary>After a failed write: cut off whatever part of it reached the store, so the retry does not follow a torn record.</summary>
    private void Rewind(Stream store)
    {
        try
        {
            if (store.CanSeek)
            {
                store.SetLength(_storedLength);
                store.Position = _storedLength;
                return;
            }
        }
        catch (Exception ex) when (ex is IOException or NotSupportedException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // Cannot cut it off: fall back to ending the fragment with a newline on the retry.
        }

        _retryOnNewLine = true;
    }

    /// <summary>Under _lock: the record as one line in _line.</summary>
    private void SerializeLine(AuditRecord record)
    {
        _line!.ResetWrittenCount();
        _lineWriter!.Reset(_line);
        try
        {
            WriteRecord(_lineWriter, record, sanitize: false);
        }
        catch (ArgumentException)
        {
            // A string the agent chose (a session id, a tool call id) with a lone surrogate cannot be written as UTF-8
            // JSON. Append must not throw (the gate's Close appends on the Stop path): write it with U+FFFD instead.
            _line.ResetWrittenCount();
            _lineWriter.Reset(_line);
            WriteRecord(_lineWriter, record, sanitize: true);
        }

        _line.Write("\n"u8);
    }

    private static void WriteRecord(Utf8JsonWriter writer, AuditRecord record, bool sanitize)
    {
        writer.WriteStartObject();
        writer.WriteNumber("seq"u8, record.Seq);
        writer.WriteString("at"u8, record.At);
        writer.WriteString("kind"u8, record.Kind.WireName());
        WriteOptional(writer, "sessionId"u8, record.SessionId, sanitize);
        WriteOptional(writer, "toolCallId"u8, record.ToolCallId, sanitize);
        WriteOptional(writer, "tool"u8, record.Tool, sanitize);
        WriteOptional(writer, "requestId"u8, record.RequestId, sanitize);
        WriteOptional(writer, "detail"u8, record.Detail, sanitize);
        writer.WriteEndObject();
        writer.Flush();
    }

    private static void WriteOptional(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string? value, bool sanitize)
    {
        if (value is not null)
        {
            writer.WriteString(name, sanitize ? Sanitize(value) : value);
        }
    }

    private static bool NeedsSanitizing(AuditRecord record) =>
        HasLoneSurrogate(record.SessionId) || HasLoneSurrogate(record.ToolCallId) || HasLoneSurrogate(record.Tool)
        || HasLoneSurrogate(record.RequestId) || HasLoneSurrogate(record.Detail);

    private static bool HasLoneSurrogate(string? value) => value is not null && !ReferenceEquals(Sanitize(value), value);

    /// <summary>The string with every lone surrogate replaced by U+FFFD (the same instance when it has none).</summary>
    private static string Sanitize(string value)
    {
        StringBuilder? builder = null;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder?.Append(c).Append(value[i + 1]);
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                builder ??= new StringBuilder(value, 0, i, value.Length);
                builder.Append('\uFFFD');
            }
            else
            {
                builder?.Append(c);
            }
        }

        return builder?.ToString() ?? value;
    }

    private static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
