namespace ContainmentLab.Bridge;

/// <summary>How a dead agent is replaced (G5): the next session starts a fresh one, after a backoff, within a budget.</summary>
public sealed class RestartOptions
{
    /// <summary>How many times the bridge may start a fresh agent in its lifetime; 0 turns restarts off.</summary>
    public int Budget { get; init; } = 3;

    /// <summary>The wait before the first restart; it doubles for each later one, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan BackoffFor(int attempt) =>
        TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, InitialBackoff.Ticks * (1L << Math.Clamp(attempt - 1, 0, 30))));
}
