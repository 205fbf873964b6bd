using System.Diagnostics;
using System.Text;
using ContainmentLab.FakeAgent;
using ContainmentLab.Protocol;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>
/// The fake agent's own account (<see cref="AgentAccount"/>): what it sent, what it was answered, what it received after
/// a session's cancel and its line counts, as the runner's oracles read it back — also from an agent that was killed.
/// </summary>
[TestFixture]
public sealed class AgentAccountTests
{
    private string _dir = string.Empty;

    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    [SetUp]
    public void CreateDirectory() => _dir = Directory.CreateTempSubdirectory("agent-account-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    [CancelAfter(20_000)]
    public async Task Engine_CancelIgnored_AccountsForEveryRequestAnswerAndTheCancel()
    {
        var path = Path.Combine(_dir, "account.ndjson");
        using (var written = new AgentAccount(File.Create(path)))
        await using (var h = FakeAgentHarness.Start("""
            on_cancel: ignore
            prompts:
              - steps:
                  - storm: { count: 10, concurrency: 2, tools: [desktop.press] }
            """, written))
        {
            h.Client.Handler = _ => AgentReply.Hold;
            var session = await h.OpenSessionAsync(Token);
            var prompt = h.Client.PromptAsync(session, Token);
            await h.Client.WaitForRequestsAsync(2, Token);

            // Two requests out before the cancel; once the agent has handled it (the ping), the storm goes on after it.
            await h.Client.CancelAsync(session, Token);
            await h.Client.PingAsync(Token);
            h.Client.Handler = _ => AgentReply.Error(JsonRpcErrorCodes.Interrupted);
            await h.Client.AnswerHeldAsync(AgentReply.Error(JsonRpcErrorCodes.Interrupted), Token);
            await prompt;
        }

        var account = AgentAccountRecord.Read(path)!;
        Assert.That(account.Problem, Is.Null);
        Assert.That(account.Sent.Select(s => (s.Id, s.Method, s.Line)), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), AcpMethods.ContainmentTool, (long)(i < 2 ? i + 3 : i + 4)))),
            "ids from 0, on its own lines: 1 and 2 were the handshake's answers, 5 the ping's");
        Assert.That(account.Sent.Take(2).Select(s => s.AfterCancel), Is.All.False);
        Assert.That(account.Sent.Skip(2).Select(s => s.AfterCancel), Is.All.True, "sent after it had read the cancel");
        Assert.That(account.Sent.Select(s => s.Session), Is.All.EqualTo("sess-1"));
        Assert.That(account.Answers.Select(a => (a.Id, a.Known, a.Error)), Is.EquivalentTo(Enumerable.Range(0, 10).Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), true, (int?)JsonRpcErrorCodes.Interrupted))));
        Assert.That(account.Received.Select(r => (r.Method, r.AfterCancel)), Is.EqualTo(new[]
        {
            (AcpMethods.Initialize, false), (AcpMethods.SessionNew, false), (AcpMethods.SessionPrompt, false), (AcpMethods.SessionCancel, false), (AcpTestClient.PingMethod, false),
        }));
        Assert.That(account.Exit, Is.EqualTo(new AccountExit("input ended", false, LinesWritten: 14, LinesRead: 15)), "2 handshake answers, 10 requests, the ping's answer, the prompt's; 5 requests and notifications in, 10 answers");
    }

    [Test]
    [Category("Process")]
    [CancelAfter(30_000)]
    public async Task ChildProcess_KilledMidTurn_LeavesItsAccountUpToItsDeath()
    {
        var script = Path.Combine(_dir, "crash.yaml");
        var path = Path.Combine(_dir, "account.ndjson");
        await File.WriteAllTextAsync(script, """
            prompts:
              - steps:
                  - tool: desktop.press
                  - crash: { signal: SIGKILL }
            """, Token);
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "ContainmentLab.FakeAgent"), ["--script", script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        info.Environment[AgentAccount.EnvironmentVariable] = path;
        using var process = Process.Start(info)!;
        try
        {
            process.BeginErrorReadLine();
            await using var client = new AcpTestClient(process.StandardInput.BaseStream, process.StandardOutput.BaseStream);
            client.Start();
            await client.InitializeAsync(Token);
            var session = await client.NewSessionAsync(_dir, Token);
            _ = client.PromptAsync(session, Token);
            await process.WaitForExitAsync(Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var account = AgentAccountRecord.Read(path)!;
        Assert.That(process.ExitCode, Is.EqualTo(128 + 9), "killed by its own SIGKILL");
        Assert.That(account.ProcessId, Is.EqualTo(process.Id));
        Assert.That(account.Sent.Single().Method, Is.EqualTo(AcpMethods.ContainmentTool));
        Assert.That(account.Answers.Single().Known, Is.True);
        Assert.That(account.Exit, Is.Not.Null);
        Assert.That((account.Exit!.Crash, account.Exit.LinesWritten), Is.EqualTo((true, 3L)), "two handshake answers and the tool request, then the crash");
        Assert.That(account.Exit.Reason, Does.StartWith("sess-1: crash"));
    }
}
