namespace ContainmentLab.FakeAgent;

/// <summary>The steps of one prompt turn.</summary>
public sealed record PromptScript(IReadOnlyList<ScriptStep> Steps);
