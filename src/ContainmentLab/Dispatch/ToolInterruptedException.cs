namespace ContainmentLab.Dispatch;

/// <summary>
/// Thrown by <see cref="ToolInvocation.BeginSideEffect"/> when the session's gate closed after the call was dispatched
/// and before its side effect began: the effect does not happen, and the call is audited <c>canceled</c>. Not an
/// <see cref="OperationCanceledException"/>, so that a tool's own handling of its token cannot swallow it.
/// </summary>
public sealed class ToolInterruptedException(string message) : Exception(message);
