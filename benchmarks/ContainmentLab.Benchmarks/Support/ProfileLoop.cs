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
/// <c>dotnet run -c Release --project benchmarks/ContainmentLab.Benchmarks -- profile [--in-process] [--prompts N] [--alloc-types] [--audit-file]</c>,
/// <c>... -- profile interrupt [--iterations N] [--in-process]</c>
/// </remarks>
internal static class ProfileLoop
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["interrupt", ..])
        {
            return await InterruptAsync(args[1..]).ConfigureAwait(false);
        }

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

    /// <summary>
    /// <c>profile interrupt [--iterations N] [--in-process]</c>: Stop of an idle turn over stdio, against one echo round trip, in one
    /// process. Besides the medians it counts thread-pool work items completed per operation, a number the machine's
    /// load does not change: each is a hand-off between threads on the way from Stop to the turn's end.
    /// </summary>
    private static async Task<int> InterruptAsync(string[] args)
    {
        var iterations = Option(args, "--iterations", 200);
        var inProcess = args.Contains("--in-process");
        var stop = new List<(double Micros, long WorkItems)>();
        var floor = new List<(double Micros, long WorkItems)>();
        await using (var harness = await AgentHarness.StartAsync(Scripts.IdleTurn, childProcess: !inProcess).ConfigureAwait(false))
        {
            for (var i = 0; i < iterations + 10; i++)
            {
                var (session, turn) = await harness.StartRunningTurnAsync(completed: true).ConfigureAwait(false);
                await Task.Delay(2).ConfigureAwait(false);
                var items = ThreadPool.CompletedWorkItemCount;
                var started = Stopwatch.GetTimestamp();
                harness.Bridge.Interrupt(session);
                var outcome = await turn.ConfigureAwait(false);
                var sample = (Stopwatch.GetElapsedTime(started).TotalMicroseconds, ThreadPool.CompletedWorkItemCount - items);
                if (outcome.End != Bridge.TurnEnd.Cancelled)
                {
                    throw new InvalidOperationException($"not acked: {outcome}");
                }

                if (i >= 10)
                {
                    stop.Add(sample);
                }
            }
        }

        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted[sorted.Length / 2];
        }

        var stopMedian = Median(stop.Select(s => s.Micros));
        if (inProcess)
        {
            // Bridge and engine share this process: the work items are both sides' hand-offs.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"interrupt→ack (idle turn, in process): median {stopMedian:0.0} us, thread-pool work items per stop (bridge + engine): median {Median(stop.Select(s => (double)s.WorkItems)):0}, mean {stop.Average(s => s.WorkItems):0.00}"));
            return 0;
        }

        await using (var echo = EchoAgent.Start())
        {
            for (var i = 0; i < iterations + 10; i++)
            {
                await Task.Delay(2).ConfigureAwait(false);
                var items = ThreadPool.CompletedWorkItemCount;
                var started = Stopwatch.GetTimestamp();
                await echo.RoundTripAsync(EchoAgent.CancelLine).ConfigureAwait(false);
                if (i >= 10)
                {
                    floor.Add((Stopwatch.GetElapsedTime(started).TotalMicroseconds, ThreadPool.CompletedWorkItemCount - items));
                }
            }
        }

        var floorMedian = Median(floor.Select(s => s.Micros));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"interrupt→ack (idle turn, stdio): median {stopMedian:0.0} us, thread-pool work items per stop: median {Median(stop.Select(s => (double)s.WorkItems)):0}, mean {stop.Average(s => s.WorkItems):0.00}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"echo round trip (floor):          median {floorMedian:0.0} us, thread-pool work items per round trip: median {Median(floor.Select(s => (double)s.WorkItems)):0}, mean {floor.Average(s => s.WorkItems):0.00}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median/floor: {stopMedian / floorMedian:0.00}"));
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
