namespace ContainmentLab.Scenarios.Evidence;

/// <summary>How the fake agent says it ended, and its line counts both ways (LFs written, lines read).</summary>
internal sealed record AccountExit(string Reason, bool Crash, long LinesWritten, long LinesRead);
