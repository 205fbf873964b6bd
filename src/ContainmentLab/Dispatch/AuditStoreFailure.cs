namespace ContainmentLab.Dispatch;

/// <summary>Why the audit store is failing now, since when, and the first record it is missing.</summary>
/// <param name="Error">The OS error as the runtime reported it.</param>
/// <param name="ErrorCode">The exception's HResult (the errno for Unix I/O errors).</param>
public sealed record AuditStoreFailure(DateTimeOffset At, string Error, int ErrorCode, long FirstUnstoredSeq);
