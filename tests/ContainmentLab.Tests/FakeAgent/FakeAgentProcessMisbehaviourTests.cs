using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>
/// The scripted deaths and wedges of the real child process. Every test waits on an event (a line, end of stream, an
/// exit), never on the clock, and kills what it started in a finally, then checks it is gone.
/// </summary>
[Category("Process")]
[NonParallelizable]
public sealed partial class FakeAgentProcessMisbehaviourTests
{
    private static string AgentPath => Path.Combine(AppContext.BaseDirectory, "ContainmentLab.FakeAgent");

    private string _dir = string.Empty;

    [SetUp]
    public void CreateDirectory() => _dir = Directory.CreateTempSubdirectory("fake-agent-misbehaviour-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    [TestCase("{ exit_code: 3 }", 3)]
    [TestCase("{ signal: SIGKILL }", 128 + 9)]
    [CancelAfter(30_000)]
    public async Task Crash_MidTurn_ProcessDiesWithTheScriptedExitCode(string crash, int exitCode, CancellationToken cancellationToken)
    {
        using var agent = await StartAgentAsync($"prompts:\n  - steps:\n      - say: going down\n      - crash: {crash}\n", cancellationToken);
        try
        {
            await using var client = agent.Client();
            var session = await OpenSessionAsync(client, cancellationToken);

            Assert.That(async () => await client.PromptAsync(session, cancellationToken), Throws.TypeOf<EndOfStreamException>());
            await agent.Process.WaitForExitAsync(cancellationToken);

            Assert.That(agent.Process.ExitCode, Is.EqualTo(exitCode), agent.StderrTail);
        }
        finally
        {
            agent.KillAndAssertGone();
        }
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task ExitDuringStartup_Initialize_ExitsWithoutAnswering(CancellationToken cancellationToken)
    {
        using var agent = await StartAgentAsync("exit_during_startup: { exit_code: 7 }\n", cancellationToken);
        try
        {
            await using var client = agent.Client();

            Assert.That(async () => await client.InitializeAsync(cancellationToken), Throws.TypeOf<EndOfStreamException>());
            await agent.Process.WaitForExitAsync(cancellationToken);

            Assert.That(agent.Process.ExitCode, Is.EqualTo(7), agent.StderrTail);
        }
        finally
        {
            agent.KillAndAssertGone();
        }
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task CloseStdout_Hang_EndOfStdoutWhileThePidLives(CancellationToken cancellationToken)
    {
        using var agent = await StartAgentAsync("prompts:\n  - steps:\n      - say: bye\n      - close_stdout: {}\n", cancellationToken);
        try
        {
            await using var client = agent.Client();
            var session = await OpenSessionAsync(client, cancellationToken);

            Assert.That(async () => await client.PromptAsync(session, cancellationToken), Throws.TypeOf<EndOfStreamException>());
            await client.Completion.WaitAsync(cancellationToken);

            Assert.That(agent.Process.HasExited, Is.False, "stdout ended, the process lives on");
            Assert.That(IsAlive(agent.Pid), Is.True);
        }
        finally
        {
            agent.KillAndAssertGone();
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Spawn_DepthTwoIgnoringSigterm_DescendantsOutliveTheAgent(CancellationToken cancellationToken)
    {
        using var agent = await StartAgentAsync("prompts:\n  - steps:\n      - spawn: { depth: 2, ignore_sigterm: true }\n      - crash: { exit_code: 0 }\n", cancellationToken);
        var descendants = new List<(int Pid, int Depth)>();
        try
        {
            await using var client = agent.Client();
            var session = await OpenSessionAsync(client, cancellationToken);

            Assert.That(async () => await client.PromptAsync(session, cancellationToken), Throws.TypeOf<EndOfStreamException>());
            await agent.Process.WaitForExitAsync(cancellationToken);
            await agent.StderrEnded.WaitAsync(cancellationToken);
            descendants.AddRange(SpawnedLine().Matches(agent.Stderr).Select(m => (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))));

            Assert.That(descendants.Select(d => d.Depth), Is.EqualTo(new[] { 1, 2 }), agent.StderrTail);
            Assert.That(agent.Process.ExitCode, Is.Zero);
            Assert.That(descendants.Select(d => IsAlive(d.Pid)), Is.All.True, "the descendants outlive the agent");
            Assert.That(Environment(descendants[1].Pid), Does.Contain(CookieVariable + "=" + agent.Cookie), "they inherit the agent's environment");
        }
        finally
        {
            foreach (var (pid, _) in descendants)
            {
                KillAndWait(pid);
            }

            agent.KillAndAssertGone();
        }

        Assert.That(descendants.Select(d => IsAlive(d.Pid)), Is.All.False, "the test leaves nothing running");
    }

    private const string CookieVariable = "CONTAINMENTLAB_TEST_COOKIE";

    private async Task<Agent> StartAgentAsync(string yaml, CancellationToken cancellationToken)
    {
        var script = Path.Combine(_dir, "script.yaml");
        await File.WriteAllTextAsync(script, yaml, cancellationToken);
        var info = new ProcessStartInfo(AgentPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        info.ArgumentList.Add("--script");
        info.ArgumentList.Add(script);
        var cookie = Guid.NewGuid().ToString("N");
        info.Environment[CookieVariable] = cookie;
        return new Agent(Process.Start(info) ?? throw new InvalidOperationException("the fake agent did not start"), cookie);
    }

    private static async Task<string> OpenSessionAsync(AcpTestClient client, CancellationToken cancellationToken)
    {
        await client.InitializeAsync(cancellationToken);
        return await client.NewSessionAsync(Path.GetTempPath(), cancellationToken);
    }

    /// <summary>
    /// Alive = it exists and is not a zombie. A killed orphan may stay a zombie until whoever adopted it reaps it; that is
    /// gone for every purpose of ours.
    /// </summary>
    private static bool IsAlive(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }

        var state = stat[(stat.LastIndexOf(')') + 2)..][0];
        return state is not ('Z' or 'X');
    }

    private static string Environment(int pid) => File.ReadAllText($"/proc/{pid}/environ").Replace('\0', '\n');

    private static void KillAndWait(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            return;
        }

        // Not our child: nothing to wait on, so poll /proc (bounded by the test's CancelAfter) until SIGKILL has landed.
        var token = TestContext.CurrentContext.CancellationToken;
        while (IsAlive(pid))
        {
            token.ThrowIfCancellationRequested();
            Thread.Yield();
        }
    }

    [GeneratedRegex(@"spawned pid=(\d+) depth=(\d+)")]
    private static partial Regex SpawnedLine();

    private sealed class Agent : IDisposable
    {
        private readonly StringBuilder _stderr = new();
        private readonly TaskCompletionSource _stderrEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Agent(Process process, string cookie)
        {
            Process = process;
            Pid = process.Id;
            Cookie = cookie;
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    _stderrEnded.TrySetResult();
                    return;
                }

                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            };
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public int Pid { get; }

        public string Cookie { get; }

        public Task StderrEnded => _stderrEnded.Task;

        public string Stderr
        {
            get
            {
                lock (_stderr)
                {
                    return _stderr.ToString();
                }
            }
        }

        public string StderrTail => "stderr: " + Stderr;

        public AcpTestClient Client()
        {
            var client = new AcpTestClient(Process.StandardInput.BaseStream, Process.StandardOutput.BaseStream);
            client.Start();
            return client;
        }

        public void KillAndAssertGone()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            Process.WaitForExit();
            Assert.That(Process.HasExited, Is.True);
            Assert.That(IsAlive(Pid), Is.False, "the agent is gone");
        }

        public void Dispose() => Process.Dispose();
    }
}
