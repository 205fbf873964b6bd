using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace ContainmentLab.Bridge;

/// <summary>
/// An agent as a child process: all three pipes redirected, arguments as a list, UTF-8 without BOM, an
/// environment allow-list. stderr goes to a bounded tail, read in bounded chunks. Stops: <see cref="StopAsync"/>
/// (graceful: close stdin, wait, SIGTERM, wait, kill the tree) and <see cref="Kill"/> (forced: kill the tree now).
/// Its stdout and stderr end once the process has exited and what it wrote is read, even while a descendant holds
/// them open (<see cref="ExitDrainingStream"/>): the agent's death is seen from the process, not from end of file.
/// </summary>
public sealed class AgentProcess : IAgentTransport
{
    /// <summary>How long a process whose stdout closed gets to exit by itself before it is killed.</summary>
    private static readonly TimeSpan s_reapGrace = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_killGrace = TimeSpan.FromSeconds(5);

    /// <summary>How long the exit status waits for the stderr reader to take what is left in the pipe.</summary>
    private static readonly TimeSpan s_stderrDrainGrace = TimeSpan.FromMilliseconds(500);

    private readonly Process _process;
    private readonly Task _processExited;
    private readonly ExitDrainingStream _output;
    private readonly ExitDrainingStream _errors;
    private readonly StderrTail _stderr = new();
    private readonly Task _stderrLoop;
    private readonly Action<string>? _onStderrLine;
    private int _disposed;

    private AgentProcess(Process process, Action<string>? onStderrLine)
    {
        _process = process;
        _onStderrLine = onStderrLine;
        ProcessId = process.Id;
        Description = $"{process.StartInfo.FileName} (pid {process.Id})";
        _processExited = process.WaitForExitAsync();
        _output = new ExitDrainingStream(process.StandardOutput.BaseStream, _processExited);
        _errors = new ExitDrainingStream(process.StandardError.BaseStream, _processExited);
        _stderrLoop = Task.Run(ReadStderrAsync);
        Exited = WaitForExitAsync();
    }

    public Stream Output => _output;

    public Stream Input => _process.StandardInput.BaseStream;

    public int? ProcessId { get; }

    public string Description { get; }

    public string StderrTail => _stderr.ToString();

    public Task<AgentExit> Exited { get; }

    public static AgentProcess Start(AgentCommand command, Action<string>? onStderrLine = null)
    {
        ArgumentNullException.ThrowIfNull(command);
        var info = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var argument in command.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (command.WorkingDirectory is not null)
        {
            info.WorkingDirectory = command.WorkingDirectory;
        }

        // Start from nothing and add only what is allowed: the host's secrets never reach the agent.
        var inherited = info.Environment.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        info.Environment.Clear();
        foreach (var name in command.EnvironmentAllowList)
        {
            if (inherited.TryGetValue(name, out var value) && value is not null)
            {
                info.Environment[name] = value;
            }
        }

        foreach (var (name, value) in command.Environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new AgentExitedException($"could not start the agent '{command}': {ex.Message}");
        }

        return new AgentProcess(process, onStderrLine);
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // Already exited (or disposed, with it).
        }
        catch (Win32Exception)
        {
            // Raced with its exit.
        }
    }

    public async Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (Exited.IsCompleted)
        {
            return;
        }

        // 1. Close stdin: a well-behaved ACP agent exits at end of input (the MCP SDK skips this and always waits its full grace).
        try
        {
            _process.StandardInput.Close();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Gone already (the bridge's watcher may have disposed a dead agent meanwhile).
        }

        if (await ExitedWithinAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // 2. SIGTERM, then 3. kill the whole tree. The pid kept at start: the Process may be disposed by now.
        if (!Exited.IsCompleted)
        {
            NativeSignals.Send(ProcessId!.Value, NativeSignals.SigTerm);
        }

        if (await ExitedWithinAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        Kill();
        await ExitedWithinAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false);
    }

    public async Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider)
    {
        if (await ExitedWithinAsync(s_reapGrace, timeProvider, CancellationToken.None).ConfigureAwait(false))
        {
            return await Exited.ConfigureAwait(false);
        }

        // Its stdout closed but the process lives on: of no use to anyone, and it must not linger.
        Kill();
        return await ExitedWithinAsync(s_killGrace, timeProvider, CancellationToken.None).ConfigureAwait(false)
            ? await Exited.ConfigureAwait(false)
            : new AgentExit(null, null, StderrTail);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!Exited.IsCompleted)
        {
            Kill();
        }

        try
        {
            await Exited.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System).ConfigureAwait(false);
            await _stderrLoop.WaitAsync(TimeSpan.FromSeconds(1), TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _process.Dispose();
        await _output.DisposeAsync().ConfigureAwait(false);
        await _errors.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<bool> ExitedWithinAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            await Exited.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task<AgentExit> WaitForExitAsync()
    {
        await _processExited.ConfigureAwait(false);
        var code = _process.ExitCode;

        // .NET reports a death by signal n as exit code 128 + n.
        int? signal = code > 128 && code < 128 + 65 ? code - 128 : null;
        try
        {
            // The reader ends as soon as the pipe is empty, even if a descendant holds it open; the bound is for a
            // descendant that keeps writing to it.
            await _stderrLoop.WaitAsync(s_stderrDrainGrace, TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Report the tail we have.
        }

        return new AgentExit(signal is null ? code : null, signal, _stderr.ToString());
    }

    private async Task ReadStderrAsync()
    {
        try
        {
            await StderrReader.ReadAsync(_errors, _stderr, _onStderrLine).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
        }
    }
}
