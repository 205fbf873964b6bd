using ContainmentLab.Protocol;

namespace ContainmentLab.FakeAgent;

public enum CancelMode
{
    /// <summary>Stop issuing work at once and answer the prompt <c>cancelled</c>.</summary>
    Honour,

    /// <summary>Carry on; the turn ends as scripted.</summary>
    Ignore,

    /// <summary>Stop issuing work and never answer the prompt.</summary>
    Hang,

    /// <summary>Stop issuing work and answer after <see cref="CancelBehaviour.AckDelay"/> with <see cref="CancelBehaviour.StopReason"/>.</summary>
    AckAfter,

    /// <summary>
    /// Hostile: answer the prompt <c>cancelled</c> at once, then carry on with the turn's remaining steps (tool calls,
    /// updates) as if nothing happened — everything after the answer belongs to a turn that is over.
    /// </summary>
    AckAndContinue,
}

/// <summary>What the agent does when <c>session/cancel</c> arrives for a session with a running turn (<c>on_cancel:</c>).</summary>
public sealed record CancelBehaviour(CancelMode Mode, TimeSpan AckDelay = default, string StopReason = StopReasons.Cancelled)
{
    public static CancelBehaviour Honour { get; } = new(CancelMode.Honour);

    public static CancelBehaviour Ignore { get; } = new(CancelMode.Ignore);

    public static CancelBehaviour Hang { get; } = new(CancelMode.Hang);

    public static CancelBehaviour AckAndContinue { get; } = new(CancelMode.AckAndContinue);

    public static CancelBehaviour AckAfter(TimeSpan delay, string stopReason = StopReasons.Cancelled) => new(CancelMode.AckAfter, delay, stopReason);
}
