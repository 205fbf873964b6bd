using System.Collections.Concurrent;
using System.Globalization;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// The live terminals of one bridge, shared by the five <c>terminal/*</c> tools. A terminal belongs to the session
/// that created it; its process group dies on that session's interrupt, on release, and when this is disposed.
/// </summary>
public sealed class Terminals : IAsyncDisposable
{
    /// <summary>Output kept per terminal when the request names no <c>outputByteLimit</c>.</summary>
    public const int DefaultOutputByteLimit = 1024 * 1024;

    /// <summary>The most a request may ask for: the agent does not get to choose how much host memory a terminal holds.</summary>
    public const int MaxOutputByteLimit = 16 * 1024 * 1024;

    private readonly ConcurrentDictionary<string, Terminal> _terminals = new(StringComparer.Ordinal);
    private readonly Sandbox _sandbox;
    private readonly TimeProvider _time;
    private long _nextId;
    private int _disposed;

    public Terminals(Sandbox sandbox, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        _sandbox = sandbox;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// The host's cookie for each terminal's environment (the bridge sets it: <see cref="HostToolRegistry.MarkHostProcesses"/>);
    /// asked before each start, so the lease that names it is written before the first terminal runs. Null: no cookie.
    /// </summary>
    internal Func<string?>? HostCookie { get; set; }

    /// <summary>Terminals created and not yet released.</summary>
    public int Count => _terminals.Count;

    /// <summary>The process group of a live terminal (its leader's pid), for diagnostics and tests; null when unknown.</summary>
    public int? ProcessGroupOf(string terminalId) =>
        _terminals.TryGetValue(terminalId, out var terminal) ? terminal.ProcessGroupId : null;

    internal Terminal Create(ToolInvocation call, CreateTerminalRequest request, CancellationToken cancellationToken)
    {
        var cwd = _sandbox.Resolve(request.Cwd ?? _sandbox.Root);
        if (!Directory.Exists(cwd))
        {
            throw new ToolFailedException($"cwd '{request.Cwd}' is not a directory");
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var cookie = HostCookie?.Invoke();
        cancellationToken.ThrowIfCancellationRequested();
        var limit = (int)Math.Min(request.OutputByteLimit ?? DefaultOutputByteLimit, MaxOutputByteLimit);
        var id = "term-" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        call.BeginSideEffect(); // G1: the process start is the side effect: the gate is checked now, nothing in between
        var terminal = Terminal.Start(id, call.SessionId, request, cwd, limit, cookie, _time);
        _terminals[id] = terminal;

        // Runs at once if the session was interrupted meanwhile; and a dispose that raced us must not miss it.
        call.Session?.OnInterrupt(terminal.Kill);
        if (Volatile.Read(ref _disposed) != 0 && _terminals.TryRemove(id, out _))
        {
            _ = terminal.DisposeAsync().AsTask();
            throw new ObjectDisposedException(nameof(Terminals));
        }

        return terminal;
    }

    /// <summary>The caller's terminal; another session's is denied, an unknown id fails.</summary>
    internal Terminal Get(ToolInvocation call, string terminalId)
    {
        if (!_terminals.TryGetValue(terminalId, out var terminal))
        {
            throw new ToolFailedException($"no terminal '{terminalId}' (never created, or released)");
        }

        if (terminal.SessionId != call.SessionId)
        {
            throw new ToolDeniedException($"terminal '{terminalId}' belongs to another session");
        }

        return terminal;
    }

    internal async ValueTask ReleaseAsync(ToolInvocation call, string terminalId)
    {
        var terminal = Get(call, terminalId);
        if (_terminals.TryRemove(new KeyValuePair<string, Terminal>(terminalId, terminal)))
        {
            await terminal.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Kills every terminal's group and frees them all. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Every group gets its SIGKILL first, so that no terminal waits for another's reaping to be killed.
        var all = _terminals.Values.ToArray();
        foreach (var terminal in all)
        {
            terminal.Kill();
        }

        _terminals.Clear();
        await Task.WhenAll(all.Select(t => t.DisposeAsync().AsTask())).ConfigureAwait(false);
    }
}
