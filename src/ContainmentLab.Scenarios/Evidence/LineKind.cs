namespace ContainmentLab.Scenarios.Evidence;

/// <summary>What a wire line is, as far as its head can be read.</summary>
internal enum LineKind
{
    /// <summary>Not JSON, or its head does not say (no method and no id before the first fault).</summary>
    Unreadable,
    Request,
    Notification,
    Response,
}
