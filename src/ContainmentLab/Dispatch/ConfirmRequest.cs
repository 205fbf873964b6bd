namespace ContainmentLab.Dispatch;

/// <summary>What the user is asked under the confirm policy (the dialog's text).</summary>
public sealed record ConfirmRequest(string SessionId, string ToolCallId, string Tool, ToolClass Class, string Description);
