namespace ContainmentLab.Dispatch;

public enum ToolPolicy
{
    /// <summary>Run it.</summary>
    Allow,

    /// <summary>Ask the user (the confirm callback) first; the gate is checked again after the answer.</summary>
    Confirm,

    /// <summary>Answer what the tool would have done without doing it.</summary>
    DryRun,

    /// <summary>Refuse it.</summary>
    Deny,
}
