using System.Diagnostics;

namespace ContainmentLab.Tests.Interop;

/// <summary>Runs a process to its end with both outputs captured; a run that outlives its bound is killed with its tree.</summary>
internal static class NodeProcess
{
    internal sealed record Result(int ExitCode, string Stdout, string Stderr, int ProcessId);

    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        try
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(bound.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                var tail = await stderr.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
                throw new TimeoutException($"{fileName} {string.Join(' ', info.ArgumentList)} did not end within {timeout.TotalSeconds:0} s; it was killed. stderr:\n{tail}");
            }

            return new Result(process.ExitCode, await stdout, await stderr, process.Id);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
