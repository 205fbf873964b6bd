namespace ContainmentLab.Dispatch;

/// <summary>How the dispatcher decides.</summary>
public sealed class DispatcherOptions
{
    public PolicySet Policies { get; init; } = new();

    /// <summary>
    /// The user's dialog under the confirm policy: true to allow. Absent, a call that needs confirmation is denied
    /// (nobody is there to say yes).
    /// </summary>
    public Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? ConfirmAsync { get; init; }
}
