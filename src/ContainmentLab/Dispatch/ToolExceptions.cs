namespace ContainmentLab.Dispatch;

/// <summary>The tool refuses this call (e.g. a path outside the sandbox): audited as <c>denied</c>.</summary>
public sealed class ToolDeniedException(string message) : Exception(message);

/// <summary>The tool ran and failed: audited as <c>failed</c>.</summary>
public sealed class ToolFailedException(string message, Exception? inner = null) : Exception(message, inner);
