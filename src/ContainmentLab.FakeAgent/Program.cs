using ContainmentLab.FakeAgent;

// Thin on purpose: everything lives in FakeAgentHost so `containmentlab fake-agent` can run the same code.
return await FakeAgentHost.RunFromArgumentsAsync(args, Console.Error).ConfigureAwait(false);
