namespace ContainmentLab.Dispatch;

/// <summary>How a confirm dialog ended; the first of these to arrive wins.</summary>
internal enum ConfirmAnswer
{
    /// <summary>The user allowed it.</summary>
    Yes,

    /// <summary>The user declined (or the dialog failed, or there is no dialog).</summary>
    No,

    /// <summary>The session was interrupted while the dialog was open: the answer no longer counts.</summary>
    Cancelled,

    /// <summary>Nobody answered within <see cref="DispatcherOptions.ConfirmTimeout"/>: a denial.</summary>
    TimedOut,
}
