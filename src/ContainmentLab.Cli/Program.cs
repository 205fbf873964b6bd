using ContainmentLab.Cli;
using ContainmentLab.Scenarios;

// The host process of a kill_host fixture takes its arguments raw (an agent command line follows "--").
if (args is ["__host", .. var hostArgs])
{
    return await ScenarioHost.RunAsync(hostArgs, Console.Out, Console.Error).ConfigureAwait(false);
}

return await CliApp.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
