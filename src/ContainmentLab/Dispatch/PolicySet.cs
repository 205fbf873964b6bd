namespace ContainmentLab.Dispatch;

/// <summary>The policy per tool class, with per-tool overrides (by tool name, e.g. <c>desktop.press</c> or <c>fs/write_text_file</c>).</summary>
public sealed class PolicySet
{
    public ToolPolicy ReadOnly { get; init; } = ToolPolicy.Allow;

    public ToolPolicy SideEffect { get; init; } = ToolPolicy.Allow;

    public ToolPolicy Destructive { get; init; } = ToolPolicy.Confirm;

    public IReadOnlyDictionary<string, ToolPolicy> PerTool { get; init; } = new Dictionary<string, ToolPolicy>(StringComparer.Ordinal);

    public ToolPolicy For(string tool, ToolClass toolClass) =>
        PerTool.TryGetValue(tool, out var policy) ? policy : toolClass switch
        {
            ToolClass.ReadOnly => ReadOnly,
            ToolClass.SideEffect => SideEffect,
            _ => Destructive,
        };
}
