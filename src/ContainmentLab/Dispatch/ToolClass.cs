namespace ContainmentLab.Dispatch;

/// <summary>How much harm a tool call can do; policies are set per class.</summary>
public enum ToolClass
{
    ReadOnly,
    SideEffect,
    Destructive,
}
