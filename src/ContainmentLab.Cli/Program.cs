using ContainmentLab.Cli;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Os;

// The host process of a kill_host fixture takes its arguments raw (an agent command line follows "--").
if (args is [ScenarioHost.Verb, .. var hostArgs])
{
    return await ScenarioHost.RunAsync(hostArgs, Console.Out, Console.Error).ConfigureAwait(false);
}

// The subreaper above a kill_host fixture's host process (and any command under test): its arguments are raw too.
if (args is [ChildReaper.Verb, .. var reaperArgs])
{
    return await ChildReaper.RunAsync(reaperArgs, Console.Error).ConfigureAwait(false);
}

return await CliApp.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
