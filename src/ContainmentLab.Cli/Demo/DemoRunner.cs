using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;

namespace ContainmentLab.Cli.Demo;

/// <summary>
/// The demo: the fake agent as a child process, three sessions storming side-effect tools, Stop for session 1
/// mid-storm, later Stop for all; then the guarantees read off the audit log and the turn outcomes.
/// </summary>
public static class DemoRunner
{
    public static async Task<DemoResult> RunAsync(DemoOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var script = Path.Combine(Path.GetTempPath(), $"containmentlab-demo-{Environment.ProcessId}.yaml");
        await File.WriteAllTextAsync(script, $$"""
            name: demo-storm
            on_cancel: honour
            prompts:
              - steps:
                  - say: "Clicking through every dialog I can find"
                  - storm: { count: {{options.StormCount}}, concurrency: {{options.Concurrency}}, tools: { desktop.press: 3, desktop.set_value: 2, desktop.key: 1 }, seed: 42 }
                  - end: end_turn
            """, cancellationToken).ConfigureAwait(false);

        var sandbox = Directory.CreateTempSubdirectory("containmentlab-demo-");
        var dispatched = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var problems = new List<string>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = options.Agent(script),
            SandboxRoot = sandbox.FullName,
            AckTimeout = options.AckTimeout,
            AuditPath = options.AuditPath,
        });
        bridge.Events.Subscribe(e =>
        {
            if (e is ToolDispatched d)
            {
                dispatched.AddOrUpdate(d.Id, 1, (_, n) => n + 1);
            }
        });

        int? pid = null;
        string[] ids;
        TurnOutcome[] outcomes;
        IReadOnlyList<AuditRecord> records;
        try
        {
            await bridge.StartAsync(cancellationToken).ConfigureAwait(false);
            pid = bridge.AgentProcessId;
            ids = [
                await bridge.NewSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false),
                await bridge.NewSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false),
                await bridge.NewSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false),
            ];
            var turns = ids.Select(id => bridge.PromptAsync(id, "Storm the desktop", cancellationToken)).ToArray();

            await WaitForAsync(() => Count(dispatched, ids[0]) >= options.InterruptFirstAfter || turns[0].IsCompleted, cancellationToken).ConfigureAwait(false);
            bridge.Interrupt(ids[0]);
            var atFirstStop = ids.Select(id => Count(dispatched, id)).ToArray();

            await WaitForAsync(() => ids.Skip(1).Select((id, i) => Count(dispatched, id) - atFirstStop[i + 1] >= options.InterruptAllAfterMore || turns[i + 1].IsCompleted).All(x => x), cancellationToken).ConfigureAwait(false);
            bridge.InterruptAll();

            outcomes = await Task.WhenAll(turns).ConfigureAwait(false);
            await WaitForAsync(() => AuditChecks.ExactlyOneTerminalRecord(bridge.Audit.Snapshot()).Count == 0, cancellationToken, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            records = bridge.Audit.Snapshot();
        }
        finally
        {
            await bridge.DisposeAsync().ConfigureAwait(false);
            File.Delete(script);
            sandbox.Delete(recursive: true);
        }

        problems.AddRange(AuditChecks.ExactlyOneTerminalRecord(records));
        var reports = new List<SessionReport>();
        var firstInterruptSeq = InterruptSeq(records, ids[0]);
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            var own = records.Where(r => r.SessionId == id).ToList();
            var interruptSeq = InterruptSeq(records, id);
            var afterInterrupt = own.Count(r => r.Kind == AuditKind.Dispatched && r.Seq > interruptSeq);
            var outcome = outcomes[i];

            // G2: sessions 2 and 3 were untouched by session 1's Stop: nothing skipped before their own interrupt, and
            // they went on dispatching after session 1's.
            var g2 = i == 0 || (own.Count(r => r.Kind == AuditKind.Skipped && r.Seq < interruptSeq) == 0
                && own.Any(r => r.Kind == AuditKind.Dispatched && r.Seq > firstInterruptSeq));
            var g3 = outcome.End is TurnEnd.Cancelled or TurnEnd.Escalated or TurnEnd.Completed
                && (outcome.AckLatency is null || outcome.AckLatency <= options.AckTimeout);
            reports.Add(new SessionReport(
                id,
                i == 0 ? "Interrupt" : "InterruptAll",
                own.Count(r => r.Kind.IsTerminal()),
                own.Count(r => r.Kind == AuditKind.Dispatched),
                own.Count(r => r.Kind == AuditKind.Skipped),
                afterInterrupt,
                outcome,
                afterInterrupt == 0,
                g2,
                g3));
        }

        var gone = pid is not { } p || await IsGoneAsync(p).ConfigureAwait(false);
        return new DemoResult(reports, pid, gone, problems);
    }

    private static int Count(ConcurrentDictionary<string, int> counts, string id) => counts.TryGetValue(id, out var n) ? n : 0;

    private static long InterruptSeq(IReadOnlyList<AuditRecord> records, string sessionId) =>
        records.FirstOrDefault(r => r.Kind == AuditKind.Interrupted && r.SessionId == sessionId)?.Seq ?? long.MaxValue;

    private static async Task WaitForAsync(Func<bool> condition, CancellationToken cancellationToken, TimeSpan? limit = null)
    {
        var deadline = TimeProvider.System.GetTimestamp();
        var bound = limit ?? TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(deadline) > bound)
            {
                throw new TimeoutException($"the demo waited {bound.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s for a condition that never came");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<bool> IsGoneAsync(int pid)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                if (process.HasExited)
                {
                    return true;
                }
            }
            catch (ArgumentException)
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System).ConfigureAwait(false);
        }

        return false;
    }
}
