using System.Collections.Concurrent;
using System.Globalization;
using ContainmentLab.Scenarios;
using Spectre.Console;

namespace ContainmentLab.Cli.Suite;

/// <summary>Runs fixtures in parallel (up to the core count), shows progress, and prints the verdict table.</summary>
public sealed class SuiteRunner(IAnsiConsole console, Func<string, string?, CancellationToken, Task<FixtureResult>> runFixture)
{
    public const int ExitPassed = 0;
    public const int ExitFailed = 1;
    public const int ExitInvalid = 2;

    public int Parallelism { get; init; } = Environment.ProcessorCount;

    public string? TranscriptsDirectory { get; init; }

    /// <summary>Runs the fixtures; results come back in the order given.</summary>
    public async Task<IReadOnlyList<FixtureResult>> RunAsync(IReadOnlyList<string> fixtures, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fixtures);
        if (TranscriptsDirectory is not null)
        {
            Directory.CreateDirectory(TranscriptsDirectory);
        }

        var results = new FixtureResult[fixtures.Count];
        using var slots = new SemaphoreSlim(Math.Max(1, Parallelism));
        var done = 0;
        var interactive = console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;

        async Task RunOneAsync(int i, Action<FixtureResult> report)
        {
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var transcript = TranscriptsDirectory is null ? null : Path.Combine(TranscriptsDirectory, Path.GetFileNameWithoutExtension(fixtures[i]) + ".ndjson");
                results[i] = await runFixture(fixtures[i], transcript, cancellationToken).ConfigureAwait(false);
                report(results[i]);
            }
            finally
            {
                slots.Release();
            }
        }

        if (interactive)
        {
            await console.Progress().AutoClear(false).StartAsync(async context =>
            {
                var tasks = new ConcurrentDictionary<int, ProgressTask>();
                for (var i = 0; i < fixtures.Count; i++)
                {
                    tasks[i] = context.AddTask(Markup.Escape(Path.GetFileNameWithoutExtension(fixtures[i])), maxValue: 1);
                }

                await Task.WhenAll(Enumerable.Range(0, fixtures.Count).Select(i => RunOneAsync(i, result =>
                {
                    tasks[i].Description = $"{Badge(result.Verdict)} {Markup.Escape(result.Name)}";
                    tasks[i].Value = 1;
                }))).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        else
        {
            var gate = new Lock();
            await Task.WhenAll(Enumerable.Range(0, fixtures.Count).Select(i => RunOneAsync(i, result =>
            {
                lock (gate)
                {
                    var n = Interlocked.Increment(ref done);
                    console.WriteLine($"[{n}/{fixtures.Count}] {Plain(result.Verdict)} {result.Name} ({Seconds(result.Duration)})");
                }
            }))).ConfigureAwait(false);
        }

        return results;
    }

    /// <summary>The verdict table, then every failure with its expectation, session and first offending record.</summary>
    public void WriteVerdicts(IReadOnlyList<FixtureResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var table = new Table().Title("ContainmentLab fixtures");
        foreach (var column in new[] { "fixture", "guarantees checked", "result", "stop latency", "duration" })
        {
            table.AddColumn(column);
        }

        foreach (var result in results)
        {
            table.AddRow(
                Markup.Escape(result.Name),
                Markup.Escape(string.Join(' ', result.Guarantees.Select(g => g.Held ? g.Id : g.Id + "✗"))),
                Badge(result.Verdict),
                result.StopLatency is { } latency ? latency.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-",
                Seconds(result.Duration));
        }

        console.Write(table);
        foreach (var result in results.Where(r => r.Verdict != Verdict.Passed))
        {
            console.MarkupLine($"[red]{Markup.Escape(result.Name)}[/] ({Markup.Escape(result.Path)}):");
            console.WriteLine(JUnitReport.Describe(result));
        }

        var passed = results.Count(r => r.Verdict == Verdict.Passed);
        console.MarkupLine($"{passed} of {results.Count} fixtures passed" + (passed == results.Count ? "." : $", {results.Count(r => r.Verdict == Verdict.Failed)} failed, {results.Count(r => r.Verdict == Verdict.Invalid)} invalid."));
    }

    /// <summary>0 when everything held, 1 when a guarantee or expectation failed, 2 when a fixture is invalid.</summary>
    public static int ExitCode(IReadOnlyList<FixtureResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        return results.Any(r => r.Verdict == Verdict.Invalid) ? ExitInvalid
            : results.Any(r => r.Verdict == Verdict.Failed) ? ExitFailed
            : ExitPassed;
    }

    private static string Badge(Verdict verdict) => verdict switch
    {
        Verdict.Passed => "[green]pass[/]",
        Verdict.Failed => "[red]FAIL[/]",
        _ => "[yellow]INVALID[/]",
    };

    private static string Plain(Verdict verdict) => verdict switch
    {
        Verdict.Passed => "PASS",
        Verdict.Failed => "FAIL",
        _ => "INVALID",
    };

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
