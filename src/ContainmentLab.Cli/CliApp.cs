using System.CommandLine;
using ContainmentLab.Cli.Demo;
using ContainmentLab.FakeAgent;

namespace ContainmentLab.Cli;

/// <summary>The <c>containmentlab</c> command line.</summary>
public static class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("ContainmentLab: does Stop really stop the agent? A reference ACP bridge, a misbehaving fake agent, and the proof.");
        root.Subcommands.Add(FakeAgentCommand());
        root.Subcommands.Add(FixtureCommands.Run());
        root.Subcommands.Add(FixtureCommands.Suite());
        root.Subcommands.Add(DemoCommand());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(BenchCompareCommand.Create());
        return root;
    }

    private static Command FakeAgentCommand()
    {
        var script = new Option<FileInfo>("--script") { Description = "The fake-agent script (YAML; see fixtures/README.md)" };
        var replay = new Option<FileInfo>("--replay") { Description = "Replay the agent side of a transcript (NDJSON) instead of running a script" };
        var command = new Command("fake-agent", "Run the scriptable fake ACP agent on stdin/stdout (plug it into any ACP client)") { script, replay };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(script) is null) == (result.GetResult(replay) is null))
            {
                result.AddError("Give exactly one of --script FILE and --replay FILE.");
            }
        });
        command.SetAction((parse, cancellationToken) => parse.GetValue(replay) is { } transcript
            ? FakeAgentHost.RunReplayAsync(transcript.FullName, Console.Error, cancellationToken)
            : FakeAgentHost.RunAsync(parse.GetValue(script)!.FullName, Console.Error, cancellationToken));
        return command;
    }

    private static Command DemoCommand()
    {
        var audit = new Option<FileInfo?>("--audit") { Description = "Also write the audit log (JSON Lines) to this file" };
        var storm = new Option<int>("--storm") { Description = "Tool calls each session's storm asks for", DefaultValueFactory = _ => DemoOptions.DefaultStorm };
        var command = new Command("demo", "Start the fake agent as a child process, storm three sessions, Stop one and then all, and check G1–G3") { audit, storm };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new DemoOptions
            {
                Agent = DemoOptions.SelfAsFakeAgent(),
                StormCount = parse.GetValue(storm),
                AuditPath = parse.GetValue(audit)?.FullName,
            };
            var report = await DemoRunner.RunAsync(options, cancellationToken).ConfigureAwait(false);
            DemoReport.Write(report, Output.Console());
            return report.AllHeld ? 0 : 1;
        });
        return command;
    }
}
