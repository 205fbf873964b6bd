namespace ContainmentLab.Scenarios;

/// <summary>Where something is written in a fixture file (1-based), for messages that point at it.</summary>
public readonly record struct SourceMark(string File, long Line, long Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}
