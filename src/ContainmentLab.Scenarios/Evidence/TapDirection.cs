namespace ContainmentLab.Scenarios.Evidence;

/// <summary>Which way bytes went between the agent and the bridge.</summary>
internal enum TapDirection
{
    /// <summary>The agent's stdout, as the bridge read it.</summary>
    FromAgent,

    /// <summary>The agent's stdin, as the bridge wrote it.</summary>
    ToAgent,
}
