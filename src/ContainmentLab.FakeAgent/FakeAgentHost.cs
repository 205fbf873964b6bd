using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace ContainmentLab.FakeAgent;

/// <summary>The child-process mode: the engine on this process's stdin/stdout, logs on stderr, real time.</summary>
public static class FakeAgentHost
{
    public const int ExitOk = 0;
    public const int ExitUsage = 2;

    /// <summary>The hidden mode behind the <c>spawn</c> step: <c>--linger --level L --depth N [--ignore-sigterm]</c>.</summary>
    internal const string LingerFlag = "--linger";

    /// <summary>The hidden mode behind the stop-latency floor benchmark: copy stdin to stdout as it comes, nothing else.</summary>
    internal const string EchoFlag = "--echo";

    /// <summary>Parses <c>--script FILE</c> or <c>--replay FILE</c> and runs; prints problems to <paramref name="stderr"/>.</summary>
    public static Task<int> RunFromArgumentsAsync(string[] args, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args is ["--script", var path] && path.Length > 0)
        {
            return RunAsync(path, stderr, cancellationToken);
        }

        if (args is ["--replay", var transcript] && transcript.Length > 0)
        {
            return RunReplayAsync(transcript, stderr, cancellationToken);
        }

        if (args is [LingerFlag, "--level", var level, "--depth", var depth, .. var rest]
            && int.TryParse(level, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
            && int.TryParse(depth, NumberStyles.None, CultureInfo.InvariantCulture, out var d)
            && rest is [] or ["--ignore-sigterm"])
        {
            return LingerMode.RunAsync(l, d, rest.Length == 1, cancellationToken);
        }

        if (args is [EchoFlag])
        {
            return EchoAsync(cancellationToken);
        }

        stderr.WriteLine("usage: ContainmentLab.FakeAgent --script FILE | --replay FILE");
        return Task.FromResult(ExitUsage);
    }

    /// <summary>
    /// Loads the script and serves ACP on stdin/stdout until stdin closes (exit 0) or the token is cancelled. A script
    /// that cannot be loaded is reported on <paramref name="stderr"/> as <c>file:line:column: problem</c> (exit 2).
    /// </summary>
    public static async Task<int> RunAsync(string scriptPath, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scriptPath);
        ArgumentNullException.ThrowIfNull(stderr);
        FakeAgentScript script;
        try
        {
            script = FakeAgentScript.Load(scriptPath);
        }
        catch (ScriptException ex)
        {
            await stderr.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitUsage;
        }

        var (input, output) = OpenStdio();
        using var stdin = input;
        using var stdout = output;
        using var account = AgentAccount.FromEnvironment(stderr);
        var engine = new FakeAgentEngine(script, input, output, TimeProvider.System, stderr, ChildProcessHooks.Create(stderr, account));
        await engine.RunAsync(cancellationToken).ConfigureAwait(false);
        return ExitOk;
    }

    /// <summary>
    /// Loads the transcript and replays its agent side on stdin/stdout (<see cref="TranscriptReplayer"/>) until stdin
    /// closes (exit 0) or the token is cancelled. A transcript that cannot be loaded is reported on
    /// <paramref name="stderr"/> as <c>file:line: problem</c> (exit 2).
    /// </summary>
    public static async Task<int> RunReplayAsync(string transcriptPath, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transcriptPath);
        ArgumentNullException.ThrowIfNull(stderr);
        Transcript transcript;
        try
        {
            transcript = Transcript.Load(transcriptPath);
        }
        catch (TranscriptException ex)
        {
            await stderr.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitUsage;
        }

        var (input, output) = OpenStdio();
        using var stdin = input;
        using var stdout = output;
        var replayer = new TranscriptReplayer(transcript, input, output, TimeProvider.System, stderr);
        await replayer.RunAsync(cancellationToken).ConfigureAwait(false);
        return ExitOk;
    }

    /// <summary>
    /// The physical floor of the wire: every chunk read from stdin is written to stdout at once (lines stay lines),
    /// through the same unbuffered descriptors the engine uses, until stdin closes.
    /// </summary>
    private static async Task<int> EchoAsync(CancellationToken cancellationToken)
    {
        var (input, output) = OpenStdio();
        using var stdin = input;
        using var stdout = output;
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }

        return ExitOk;
    }

    /// <summary>
    /// The raw streams, never Console.Out: stdout is the wire, and Console.Out's encoding and buffering are not ours.
    /// stdout is fd 1 itself, not Console.OpenStandardOutput (a dup on Unix): close_stdout must close the last
    /// descriptor of the pipe for the host to see end of stream.
    /// </summary>
    private static (Stream Input, Stream Output) OpenStdio() =>
        (Console.OpenStandardInput(),
         OperatingSystem.IsWindows() ? Console.OpenStandardOutput() : new FileStream(new SafeFileHandle(1, ownsHandle: true), FileAccess.Write, bufferSize: 0));
}
