using System.CommandLine;
using ContainmentLab.Cli.Suite;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Report;
using Spectre.Console;

namespace ContainmentLab.Cli;

/// <summary><c>containmentlab run FILE...</c> and <c>containmentlab suite DIR</c>: fixtures against the bridge, with real processes.</summary>
internal static class FixtureCommands
{
    public static Command Run()
    {
        var files = new Argument<FileInfo[]>("FILE") { Description = "Fixture files (*.yaml)", Arity = ArgumentArity.OneOrMore };
        var transcripts = new Option<DirectoryInfo?>("--transcripts") { Description = "Write every wire line and event of each run as NDJSON into this folder" };
        var report = new Option<FileInfo?>("--report") { Description = "Write a self-contained HTML report (a timeline with a lane per session)" };
        var command = new Command("run", "Run fixture files, print each verdict and timeline") { files, transcripts, report };
        command.SetAction((parse, ct) => ExecuteAsync(
            [.. parse.GetValue(files)!.Select(f => f.FullName)], parse.GetValue(transcripts)?.FullName, parse.GetValue(report)?.FullName, null, printTimelines: true, ct));
        return command;
    }

    public static Command Suite()
    {
        var directory = new Argument<DirectoryInfo>("DIR") { Description = "The fixture folder (its scripts/ subfolder holds fake-agent scripts, not fixtures)" };
        var filter = new Option<string?>("--filter") { Description = "Only fixtures whose name or relative path matches this glob (* ? **)" };
        var shard = new Option<string?>("--shard") { Description = "K/N: run the Kth of N shards; the N shards together run each fixture once" };
        var junit = new Option<FileInfo?>("--junit") { Description = "Write the results as JUnit XML" };
        var transcripts = new Option<DirectoryInfo?>("--transcripts") { Description = "Write every run's transcript (NDJSON) into this folder" };
        var report = new Option<FileInfo?>("--report") { Description = "Write a self-contained HTML report" };
        var command = new Command("suite", "Run every fixture in a folder, in parallel up to the core count") { directory, filter, shard, junit, transcripts, report };
        command.SetAction((parse, ct) =>
        {
            var selected = Shard.All;
            if (parse.GetValue(shard) is { } text && !Shard.TryParse(text, out selected, out var error))
            {
                Console.Error.WriteLine(error);
                return Task.FromResult(SuiteRunner.ExitInvalid);
            }

            IReadOnlyList<string> fixtures;
            try
            {
                fixtures = selected.Take(FixtureDiscovery.Find(parse.GetValue(directory)!.FullName, parse.GetValue(filter)));
            }
            catch (DirectoryNotFoundException ex)
            {
                Console.Error.WriteLine(ex.Message);
                return Task.FromResult(SuiteRunner.ExitInvalid);
            }

            return ExecuteAsync(fixtures, parse.GetValue(transcripts)?.FullName, parse.GetValue(report)?.FullName, parse.GetValue(junit)?.FullName, printTimelines: false, ct);
        });
        return command;
    }

    private static async Task<int> ExecuteAsync(IReadOnlyList<string> fixtures, string? transcripts, string? report, string? junit, bool printTimelines, CancellationToken cancellationToken)
    {
        var console = Output.Console();
        if (fixtures.Count == 0)
        {
            Console.Error.WriteLine("no fixtures to run");
            return SuiteRunner.ExitInvalid;
        }

        var started = TimeProvider.System.GetTimestamp();
        var runner = new SuiteRunner(console, (path, transcript, ct) => ScenarioRunner.RunFileAsync(path, new ScenarioRunOptions { TranscriptPath = transcript }, ct))
        {
            TranscriptsDirectory = transcripts,
        };
        var results = await runner.RunAsync(fixtures, cancellationToken).ConfigureAwait(false);
        if (printTimelines)
        {
            foreach (var result in results)
            {
                console.WriteLine($"-- {result.Name}: {result.Verdict}");
                foreach (var entry in result.Timeline)
                {
                    console.WriteLine($"{entry.At.TotalSeconds,8:0.000}s  {entry.Lane,-8} {entry.Kind,-20} {entry.Detail}");
                }
            }
        }

        runner.WriteVerdicts(results);
        if (junit is not null)
        {
            JUnitReport.Create(results, TimeProvider.System.GetElapsedTime(started)).Save(junit);
            console.WriteLine($"JUnit: {junit}");
        }

        if (report is not null)
        {
            HtmlReport.Write(results, report);
            console.WriteLine($"report: {report}");
        }

        return SuiteRunner.ExitCode(results);
    }
}
