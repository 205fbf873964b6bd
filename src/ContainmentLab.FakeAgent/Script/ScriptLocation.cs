namespace ContainmentLab.FakeAgent;

/// <summary>Where something was written in a script, for messages that point back at it.</summary>
public readonly record struct ScriptLocation(string Source, long Line, long Column)
{
    public override string ToString() => $"{Source}:{Line}:{Column}";
}
