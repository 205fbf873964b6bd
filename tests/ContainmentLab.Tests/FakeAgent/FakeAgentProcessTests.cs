using System.Diagnostics;
using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>The built fake agent as a real child process on stdio.</summary>
[Category("Process")]
[NonParallelizable]
public sealed class FakeAgentProcessTests
{
    private static string AgentPath => Path.Combine(AppContext.BaseDirectory, "ContainmentLab.FakeAgent");

    private string _dir = string.Empty;

    [SetUp]
    public void CreateDirectory() => _dir = Directory.CreateTempSubdirectory("fake-agent-process-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    [CancelAfter(30_000)]
    public async Task ChildProcess_StormOverStdio_EndsTurnAndExitsWhenStdinCloses(CancellationToken cancellationToken)
    {
        var script = Path.Combine(_dir, "storm.yaml");
        await File.WriteAllTextAsync(script, """
            name: process-storm
            prompts:
              - steps:
                  - say: starting
                  - storm: { count: 20, concurrency: 4, tools: [desktop.press, desktop.key], seed: 1 }
                  - end: end_turn
            """, cancellationToken);
        using var process = Start("--script", script);
        var pid = process.Id;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            await using var client = new AcpTestClient(process.StandardInput.BaseStream, process.StandardOutput.BaseStream);
            client.Start();

            var init = await client.InitializeAsync(cancellationToken);
            var session = await client.NewSessionAsync(_dir, cancellationToken);
            var prompt = await client.PromptAsync(session, cancellationToken);
            await client.CloseInputAsync();
            await process.WaitForExitAsync(cancellationToken);

            Assert.That(init.AgentInfo?.Version, Is.EqualTo("process-storm"));
            Assert.That(prompt.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason, Is.EqualTo(StopReasons.EndTurn));
            Assert.That(client.ToolRequests, Has.Count.EqualTo(20));
            Assert.That(client.MaxOutstandingTools, Is.InRange(1, 4));
            Assert.That(process.ExitCode, Is.Zero, () => Tail(stderr));
            lock (stderr)
            {
                Assert.That(stderr.ToString(), Does.Contain("input ended"), "logs go to stderr");
            }
        }
        finally
        {
            KillIfRunning(process);
        }

        Assert.That(process.HasExited, Is.True);
        Assert.That(() => Process.GetProcessById(pid), Throws.ArgumentException, "the child is gone");
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task ChildProcess_BadScript_PrintsWhereAndExits2(CancellationToken cancellationToken)
    {
        var script = Path.Combine(_dir, "bad.yaml");
        await File.WriteAllTextAsync(script, "prompts:\n  - steps:\n      - sya: hi\n", cancellationToken);
        using var process = Start("--script", script);
        try
        {
            process.StandardInput.Close();
            var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
            var stdout = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);

            Assert.That(process.ExitCode, Is.EqualTo(2));
            Assert.That(stderr, Does.StartWith(script + ":3:9: unknown step 'sya'"));
            Assert.That(stdout, Is.Empty, "stdout is the wire");
        }
        finally
        {
            KillIfRunning(process);
        }
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task ChildProcess_NoArguments_PrintsUsageAndExits2(CancellationToken cancellationToken)
    {
        using var process = Start();
        try
        {
            process.StandardInput.Close();
            var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);

            Assert.That(process.ExitCode, Is.EqualTo(2));
            Assert.That(stderr, Does.Contain("usage: ContainmentLab.FakeAgent --script FILE"));
        }
        finally
        {
            KillIfRunning(process);
        }
    }

    private static Process Start(params string[] arguments)
    {
        var info = new ProcessStartInfo(AgentPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("the fake agent did not start");
    }

    private static void KillIfRunning(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    private static string Tail(StringBuilder stderr)
    {
        lock (stderr)
        {
            return "stderr: " + stderr;
        }
    }
}
