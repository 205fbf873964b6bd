namespace ContainmentLab.Dispatch;

/// <summary>How the dispatcher decides.</summary>
public sealed class DispatcherOptions
{
    /// <summary>How long the confirm dialog may stay unanswered by default.</summary>
    public static readonly TimeSpan DefaultConfirmTimeout = TimeSpan.FromMinutes(2);

    public PolicySet Policies { get; init; } = new();

    /// <summary>
    /// The user's dialog under the confirm policy: true to allow. Absent, a call that needs confirmation is denied
    /// (nobody is there to say yes). Its token is cancelled when the session is interrupted or the dialog timed out:
    /// close the dialog then.
    /// </summary>
    public Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? ConfirmAsync { get; init; }

    /// <summary>
    /// The bound on the confirm dialog (G3: no await is unbounded), on the dispatcher's TimeProvider. A dialog left
    /// unanswered this long is a denial: the tool call is <c>denied</c>, a permission request is answered with its reject
    /// option (<c>cancelled</c> only when it offers none, since <c>cancelled</c> ends the agent's whole turn). Either way a
    /// <see cref="Events.ConfirmTimedOut"/> is published. Positive, at most 49 days.
    /// </summary>
    public TimeSpan ConfirmTimeout { get; init; } = DefaultConfirmTimeout;

    /// <summary>The watchdog every running host tool call is registered with; null for none.</summary>
    public IToolWatch? Watch { get; init; }
}
