using System.IO.Pipelines;

namespace ContainmentLab.Bridge;

/// <summary>
/// An in-process agent on a pair of in-memory pipes: the bridge runs unchanged, and tests and benchmarks run the
/// fake agent's engine on a fake clock with no process at all.
/// </summary>
public sealed class StreamTransport : IAgentTransport
{
    /// <summary>How long a killed in-process agent gets to return from its run before the transport stops waiting for it.</summary>
    internal static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

    private readonly TimeProvider _time;
    private readonly Pipe _toAgent = new();
    private readonly Pipe _fromAgent = new();
    private readonly CancellationTokenSource _kill = new();
    private int _killed;
    private TaskCompletionSource? _disposal;

    /// <param name="runAgent">Runs the agent: reads its input from the first stream, writes to the second; ends on end of input or the token.</param>
    /// <param name="description">How the agent is named in events.</param>
    /// <param name="timeProvider">The clock of <see cref="DisposeAsync"/>'s bound on an agent that ignores its kill; default the system's.</param>
    public StreamTransport(Func<Stream, Stream, CancellationToken, Task> runAgent, string description = "in-process agent", TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(runAgent);
        Description = description;
        _time = timeProvider ?? TimeProvider.System;
        Output = _fromAgent.Reader.AsStream();
        Input = _toAgent.Writer.AsStream();
        Exited = RunAsync(runAgent);
    }

    public Stream Output { get; }

    public Stream Input { get; }

    public int? ProcessId => null;

    public string Description { get; }

    public string StderrTail => string.Empty;

    public Task<AgentExit> Exited { get; }

    public void Kill()
    {
        if (Interlocked.Exchange(ref _killed, 1) == 1)
        {
            return;
        }

        _kill.Cancel();
        _toAgent.Reader.CancelPendingRead();
        _fromAgent.Writer.Complete();
    }

    public async Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider)
    {
        // In process there is no exit code to wait for: an agent that closed its output is done.
        if (!Exited.IsCompleted)
        {
            Kill();
        }

        // An agent that ignores its kill token never returns: the bridge does not wait for it beyond the grace.
        return await ExitedWithinAsync(KillGrace, timeProvider).ConfigureAwait(false) ?? new AgentExit(null, null, string.Empty);
    }

    public async Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        await _toAgent.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Exited.WaitAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill();
        }
    }

    /// <summary>Kills the agent and waits (bounded) for its run to return. Safe to call more than once, from several threads.</summary>
    public async ValueTask DisposeAsync()
    {
        // The bridge disposes a dead agent's transport from its watcher while its own stop may dispose it too: the first
        // call does it, the others wait for it (asynchronously: one may run inline inside the first one's Kill).
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _disposal, mine, null) is { } first)
        {
            await first.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            Kill();

            // The kill token's source is not disposed: a Kill on another thread may still be cancelling it (Dispose is
            // not safe beside Cancel), and an agent that ignores it may still read it. It holds nothing but memory.
            await ExitedWithinAsync(KillGrace, _time).ConfigureAwait(false);
        }
        finally
        {
            mine.SetResult();
        }
    }

    /// <summary>How the agent ended, or null when it had not ended within <paramref name="timeout"/>.</summary>
    private async Task<AgentExit?> ExitedWithinAsync(TimeSpan timeout, TimeProvider timeProvider)
    {
        try
        {
            return await Exited.WaitAsync(timeout, timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    private async Task<AgentExit> RunAsync(Func<Stream, Stream, CancellationToken, Task> runAgent)
    {
        await Task.Yield();
        var agentIn = _toAgent.Reader.AsStream();
        var agentOut = _fromAgent.Writer.AsStream();
        int code;
        try
        {
            await runAgent(agentIn, agentOut, _kill.Token).ConfigureAwait(false);
            code = 0;
        }
        catch (OperationCanceledException)
        {
            code = 137;
        }
#pragma warning disable CA1031 // The agent's crash is reported as its exit, like a process's.
        catch (Exception)
#pragma warning restore CA1031
        {
            code = 1;
        }

        // End of the agent's output is what the bridge's reader sees as the agent going away; writes to its
        // input fail from now on, as they would on a dead process's stdin.
        await _fromAgent.Writer.CompleteAsync().ConfigureAwait(false);
        await _toAgent.Reader.CompleteAsync().ConfigureAwait(false);
        return new AgentExit(code, null, string.Empty);
    }
}
