using System.Globalization;
using ContainmentLab.Bridge;
using Spectre.Console;

namespace ContainmentLab.Cli.Demo;

/// <summary>One session's line of the demo's table.</summary>
/// <param name="Requested">Tool calls the agent asked for in this session (each ends in one terminal audit record).</param>
/// <param name="DispatchedAfterInterrupt">Dispatched records with a higher sequence number than the session's interrupt: must be 0 (G1).</param>
public sealed record SessionReport(
    string SessionId,
    string Stop,
    int Requested,
    int Dispatched,
    int Skipped,
    int DispatchedAfterInterrupt,
    TurnOutcome Outcome,
    bool G1,
    bool G2,
    bool G3);

public sealed record DemoResult(IReadOnlyList<SessionReport> Sessions, int? AgentPid, bool AgentGone, IReadOnlyList<string> Problems)
{
    public bool AllHeld => AgentGone && Problems.Count == 0 && Sessions.All(s => s.G1 && s.G2 && s.G3);
}

public static class DemoReport
{
    public static void Write(DemoResult result, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(console);
        var table = new Table().Title("ContainmentLab demo: three sessions storming, Stop one, then Stop all");
        foreach (var column in new[] { "session", "stopped by", "requested", "dispatched", "skipped", "dispatched after stop", "turn ended", "ack latency", "G1", "G2", "G3" })
        {
            table.AddColumn(column);
        }

        foreach (var s in result.Sessions)
        {
            table.AddRow(
                Markup.Escape(s.SessionId),
                s.Stop,
                N(s.Requested),
                N(s.Dispatched),
                N(s.Skipped),
                N(s.DispatchedAfterInterrupt),
                Markup.Escape(s.Outcome.StopReason ?? s.Outcome.End.ToString()),
                s.Outcome.AckLatency is { } latency ? latency.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-",
                Held(s.G1),
                Held(s.G2),
                Held(s.G3));
        }

        console.Write(table);
        console.MarkupLine($"agent pid {result.AgentPid?.ToString(CultureInfo.InvariantCulture) ?? "?"}: {(result.AgentGone ? "gone after shutdown" : "[red]STILL RUNNING[/]")}");
        foreach (var problem in result.Problems)
        {
            console.MarkupLine("[red]" + Markup.Escape(problem) + "[/]");
        }

        console.MarkupLine(result.AllHeld ? "[green]G1, G2 and G3 held.[/]" : "[red]A guarantee failed.[/]");
    }

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Held(bool held) => held ? "[green]held[/]" : "[red]FAILED[/]";
}
