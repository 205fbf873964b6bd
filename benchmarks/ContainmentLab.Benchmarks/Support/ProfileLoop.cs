using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>
/// A plain loop for profilers (<c>dotnet-trace</c>) and for load-independent numbers: the throughput storm and the raw
/// echo pipeline run in one process, one after the other, and it prints exact bytes allocated per dispatched call
/// (<see cref="GC.GetTotalAllocatedBytes(bool)"/>, the bridge process only) and, with <c>--alloc-types</c>, the
/// runtime's allocation samples (one per ~100 KB) grouped by type.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project benchmarks/ContainmentLab.Benchmarks -- profile [--in-process] [--prompts N] [--alloc-types] [--audit-file]</c>
/// </remarks>
internal static class ProfileLoop
{
    public static async Task<int> RunAsync(string[] args)
    {
        var inProcess = args.Contains("--in-process");
        var allocTypes = args.Contains("--alloc-types");
        var prompts = Option(args, "--prompts", 10);
        var auditPath = args.Contains("--audit-file") ? Path.Combine(Path.GetTempPath(), $"cl-profile-audit-{Guid.NewGuid():N}.jsonl") : null;
        var calls = (long)prompts * Scripts.ThroughputStormCount;

        await using var harness = await AgentHarness.StartAsync(Scripts.FiniteStorm, childProcess: !inProcess, auditPath).ConfigureAwait(false);
        var session = await harness.Bridge.NewSessionAsync().ConfigureAwait(false);
        for (var i = 0; i < 2; i++)
        {
            await StormAsync(harness, session).ConfigureAwait(false);
        }

        using var listener = allocTypes ? new AllocationListener() : null;
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var gen0 = GC.CollectionCount(0);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < prompts; i++)
        {
            await StormAsync(harness, session).ConfigureAwait(false);
        }

        var stormElapsed = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes;
        var collections = GC.CollectionCount(0) - gen0;
        listener?.Dispose();

        var echoPerLine = TimeSpan.Zero;
        if (!inProcess)
        {
            await using var echo = EchoAgent.Start();
            await echo.PipelineAsync(EchoAgent.ToolCallLine, Scripts.ThroughputStormCount, Scripts.StormConcurrency).ConfigureAwait(false);
            var echoStarted = Stopwatch.GetTimestamp();
            for (var i = 0; i < prompts; i++)
            {
                await echo.PipelineAsync(EchoAgent.ToolCallLine, Scripts.ThroughputStormCount, Scripts.StormConcurrency).ConfigureAwait(false);
            }

            echoPerLine = Stopwatch.GetElapsedTime(echoStarted) / calls;
        }

        var perCall = stormElapsed / calls;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mode: {(inProcess ? "in-process" : "stdio")}{(auditPath is null ? "" : ", audit file")}, {calls} tool calls in {prompts} prompts"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocated: {allocated / (double)calls:0} B per dispatched call (whole bridge process), gen0 GCs: {collections}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"storm: {perCall.TotalMicroseconds:0.00} us per call"));
        if (!inProcess)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"echo: {echoPerLine.TotalMicroseconds:0.00} us per line; throughput ratio {echoPerLine / perCall:P1}"));
        }

        if (listener is not null)
        {
            Console.WriteLine("allocation samples by type (each ~100 KB):");
            foreach (var (type, count) in listener.Top(25))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {count,6}  {type}"));
            }
        }

        if (auditPath is not null)
        {
            File.Delete(auditPath);
        }

        return 0;
    }

    private static async Task StormAsync(AgentHarness harness, string session)
    {
        var outcome = await harness.Bridge.PromptAsync(session, "go").ConfigureAwait(false);
        if (outcome.End != Bridge.TurnEnd.Completed)
        {
            throw new InvalidOperationException($"the storm did not complete: {outcome}");
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>The runtime's GCAllocationTick events (verbose GC keyword): one sample per ~100 KB, with the type that crossed it.</summary>
    private sealed class AllocationListener : EventListener
    {
        private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        public IEnumerable<(string Type, int Count)> Top(int n)
        {
            lock (_lock)
            {
                return [.. _counts.OrderByDescending(kv => kv.Value).Take(n).Select(kv => (kv.Key, kv.Value))];
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.PayloadNames is null)
            {
                return;
            }

            var index = eventData.PayloadNames.IndexOf("TypeName");
            var type = index >= 0 ? eventData.Payload?[index] as string ?? "?" : "?";
            lock (_lock)
            {
                _counts[type] = _counts.GetValueOrDefault(type) + 1;
            }
        }
    }
}
