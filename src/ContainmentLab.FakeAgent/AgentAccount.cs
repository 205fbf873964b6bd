using System.Buffers;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// The fake agent's own account of its run, for oracles that do not take the bridge's word (DESIGN.md §5): every request
/// it sent (id, method, the session it named, whether it had received that session's <c>session/cancel</c> before it
/// began writing it), every answer it received, every request and notification the bridge sent it, and its line counts
/// both ways. Appended as NDJSON, one entry a line, each flushed to the OS as it is written: an agent that crashes or is
/// killed leaves its account up to its death (a kill may cut the last entry short; readers skip it).
/// </summary>
/// <remarks>
/// Entries (<c>line</c> is the agent's own wire line number: of its output for <c>sent</c>, of its input otherwise):
/// <c>{"kind":"start","pid":…}</c>,
/// <c>{"kind":"sent","line":5,"id":3,"method":"fs/read_text_file","session":"sess-1","afterCancel":false}</c>,
/// <c>{"kind":"received","line":4,"method":"session/cancel","session":"sess-1","afterCancel":false}</c> (with <c>id</c> for a request),
/// <c>{"kind":"answered","line":9,"id":3,"known":true,"error":-32001,"afterCancel":true}</c> (<c>"ok":true</c> and, for a
/// permission, <c>"outcome":"cancelled"</c> when it succeeded; <c>known</c> false for an id it never sent),
/// <c>{"kind":"output_closed","linesWritten":…}</c> and <c>{"kind":"exit","reason":…,"crash":false,"linesWritten":…,"linesRead":…}</c>.
/// Line counts count LFs: a last fragment with none is not a line here.
/// </remarks>
public sealed class AgentAccount : IDisposable
{
    /// <summary>The file the child-process agent appends its account to; unset for none.</summary>
    public const string EnvironmentVariable = "CONTAINMENTLAB_AGENT_ACCOUNT";

    private readonly Lock _lock = new();
    private readonly Stream _stream;
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly HashSet<string> _cancelled = new(StringComparer.Ordinal);
    private bool _exited;
    private bool _broken;

    /// <param name="stream">Where the entries go; the account owns it.</param>
    public AgentAccount(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    /// <summary>The account the environment asks for (<see cref="EnvironmentVariable"/>), or null; a file that cannot be opened is reported on <paramref name="log"/>.</summary>
    public static AgentAccount? FromEnvironment(TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is not { Length: > 0 } path)
        {
            return null;
        }

        try
        {
            var account = new AgentAccount(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0));
            account.Entry("start", w => w.WriteNumber("pid", Environment.ProcessId));
            return account;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            log.WriteLine($"fake-agent: cannot write the account to '{path}': {ex.Message}");
            return null;
        }
    }

    /// <summary>Whether the agent had received <c>session/cancel</c> for <paramref name="sessionId"/> by now.</summary>
    public bool CancelReceived(string? sessionId)
    {
        lock (_lock)
        {
            return sessionId is not null && _cancelled.Contains(sessionId);
        }
    }

    /// <summary>A request of the agent's was written whole, ending on output line <paramref name="line"/>.</summary>
    /// <param name="afterCancel">Taken before the write began (<see cref="CancelReceived"/>).</param>
    public void Sent(long line, RpcId id, string method, string? sessionId, bool afterCancel) => Entry("sent", w =>
    {
        w.WriteNumber("line", line);
        w.WritePropertyName("id");
        id.WriteTo(w);
        w.WriteString("method", method);
        Optional(w, "session", sessionId);
        w.WriteBoolean("afterCancel", afterCancel);
    });

    /// <summary>A request or notification from the bridge; a <c>session/cancel</c> marks its session cancelled from here on.</summary>
    public void Received(IncomingMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var sessionId = message.Params.ValueKind == JsonValueKind.Object && message.Params.TryGetProperty("sessionId", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString()
            : null;
        bool afterCancel;
        lock (_lock)
        {
            afterCancel = sessionId is not null && _cancelled.Contains(sessionId);
            if (message.Method == AcpMethods.SessionCancel && sessionId is not null)
            {
                _cancelled.Add(sessionId);
            }
        }

        Entry("received", w =>
        {
            w.WriteNumber("line", message.LineNumber);
            w.WriteString("method", message.Method);
            if (message.Id is { } id)
            {
                w.WritePropertyName("id");
                id.WriteTo(w);
            }

            Optional(w, "session", sessionId);
            w.WriteBoolean("afterCancel", afterCancel);
        });
    }

    /// <summary>An answer from the bridge to <paramref name="id"/>; <paramref name="sessionId"/> is the session its request named (null when <paramref name="known"/> is false).</summary>
    public void Answered(IncomingMessage response, RpcId id, bool known, string? sessionId)
    {
        ArgumentNullException.ThrowIfNull(response);
        var afterCancel = CancelReceived(sessionId);
        var outcome = response.Result.ValueKind == JsonValueKind.Object
            && response.Result.TryGetProperty("outcome", out var o) && o.ValueKind == JsonValueKind.Object
            && o.TryGetProperty("outcome", out var kind) && kind.ValueKind == JsonValueKind.String
            ? kind.GetString()
            : null;
        Entry("answered", w =>
        {
            w.WriteNumber("line", response.LineNumber);
            w.WritePropertyName("id");
            id.WriteTo(w);
            w.WriteBoolean("known", known);
            if (response.Error is { } error)
            {
                w.WriteNumber("error", error.Code);
            }
            else
            {
                w.WriteBoolean("ok", true);
                Optional(w, "outcome", outcome);
            }

            w.WriteBoolean("afterCancel", afterCancel);
        });
    }

    /// <summary>The script closed the output after <paramref name="linesWritten"/> lines (the process lives on).</summary>
    public void OutputClosed(long linesWritten) => Entry("output_closed", w => w.WriteNumber("linesWritten", linesWritten));

    /// <summary>The agent's end (once): why, whether it is a scripted death, and its line counts both ways.</summary>
    public void Exit(string reason, bool crash, long linesWritten, long linesRead)
    {
        lock (_lock)
        {
            if (_exited)
            {
                return;
            }

            _exited = true;
        }

        Entry("exit", w =>
        {
            w.WriteString("reason", reason);
            w.WriteBoolean("crash", crash);
            w.WriteNumber("linesWritten", linesWritten);
            w.WriteNumber("linesRead", linesRead);
        });
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _broken = true;
            _stream.Dispose();
        }
    }

    private void Entry(string kind, Action<Utf8JsonWriter> body)
    {
        lock (_lock)
        {
            if (_broken)
            {
                return;
            }

            _buffer.ResetWrittenCount();
            using (var writer = new Utf8JsonWriter(_buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("kind", kind);
                body(writer);
                writer.WriteEndObject();
            }

            _buffer.Write("\n"u8);
            try
            {
                // One write per entry, unbuffered: what was written is the OS's, whatever happens to this process next.
                _stream.Write(_buffer.WrittenSpan);
                _stream.Flush();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                _broken = true; // the account is evidence, never a reason for the agent to fail
            }
        }
    }

    private static void Optional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
