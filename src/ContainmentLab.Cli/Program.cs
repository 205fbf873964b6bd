using ContainmentLab.Cli;

return await CliApp.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
