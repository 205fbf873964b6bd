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

    /// <summary>The watchdog every running host tool call is registered with; null for none.</summary>
    public IToolWatch? Watch { get; init; }
}
