namespace ContainmentLab.Benchmarks.Support;

/// <summary>The fake-agent scripts the benchmarks drive (format: fixtures/README.md).</summary>
internal static class Scripts
{
    /// <summary>A running turn with nothing on the wire: one tool call (the sign it is running), then a long sleep.</summary>
    public const string IdleTurn = """
        name: bench-idle
        on_cancel: honour
        prompts:
          - steps:
              - tool: desktop.press
                arguments: { target: OK }
              - sleep: 1h
        """;

    /// <summary>A storm that never ends by itself: the agent pipelines host-tool calls at full speed until Stop.</summary>
    public const string EndlessStorm = """
        name: bench-storm
        on_cancel: honour
        prompts:
          - steps:
              - storm: { count: 10000000, concurrency: 8, tools: { desktop.press: 5, desktop.set_value: 2, desktop.key: 1 }, seed: 42 }
        """;

    /// <summary>The throughput storm: <see cref="ThroughputStormCount"/> calls per prompt, 8 in flight; every prompt of a session runs it.</summary>
    public const string FiniteStorm = """
        name: bench-throughput
        on_cancel: honour
        prompts:
          - steps:
              - storm: { count: 2000, concurrency: 8, tools: { desktop.press: 5, desktop.set_value: 2, desktop.key: 1 }, seed: 42 }
        """;

    public const int ThroughputStormCount = 2000;

    public const int StormConcurrency = 8;
}
