using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// The agent's transport with a tap on both pipes: what the bridge reads from the agent's stdout and writes to its
/// stdin is recorded byte for byte, outside the bridge's parser, and so is every stop the bridge asks for and the
/// process's exit. Otherwise it is the transport it wraps.
/// </summary>
internal sealed class TappedTransport : IAgentTransport
{
    private readonly IAgentTransport _inner;
    private readonly TapConnection _connection;
    private readonly Func<TimeSpan> _clock;

    public TappedTransport(IAgentTransport inner, TapConnection connection, Func<TimeSpan> clock, IRawSink? sink)
    {
        _inner = inner;
        _connection = connection;
        _clock = clock;
        Output = new TeeStream(inner.Output, connection.FromAgent, clock, sink);
        Input = new TeeStream(inner.Input, connection.ToAgent, clock, sink);

        // Stamped on the thread that completes the exit, at once: the process's own end, not the bridge's notice of it.
        _ = inner.Exited.ContinueWith(
            static (t, s) =>
            {
                var (connection, clock) = ((TapConnection, Func<TimeSpan>))s!;
                connection.OnExited(clock(), t.IsCompletedSuccessfully ? t.Result : null);
            },
            (connection, clock),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Stream Output { get; }

    public Stream Input { get; }

    public int? ProcessId => _inner.ProcessId;

    public string Description => _inner.Description;

    public string StderrTail => _inner.StderrTail;

    public Task<AgentExit> Exited => _inner.Exited;

    public Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider) => _inner.ExitAfterOutputClosedAsync(timeProvider);

    public void Kill()
    {
        _connection.OnGiveUp(_clock(), "killed");
        _inner.Kill();
    }

    public Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        _connection.OnGiveUp(_clock(), "stopped");
        return _inner.StopAsync(grace, timeProvider, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _connection.OnGiveUp(_clock(), "disposed");
        await _inner.DisposeAsync().ConfigureAwait(false);
    }
}
