using System.Diagnostics;
using ContainmentLab.Scenarios.Report;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The sample report rendered by headless Chromium through <c>tools/report-screenshot.sh</c>, which installs Debian's
/// chromium when it is missing: the report really renders offline from a file. Runs by default; on a machine where the
/// script cannot install Chromium it fails with the script's reason.
/// </summary>
[Category("Report")]
[CancelAfter(300_000)]
public sealed class ScreenshotTests
{
    private static readonly byte[] s_pngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Test]
    public async Task ReportScreenshot_SampleReport_RendersToAPng(CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("report-screenshot-").FullName;
        var report = Path.Combine(dir, "report.html");
        var png = Path.Combine(dir, "report.png");
        HtmlReport.Write(HtmlReportTests.SampleResults(), report);

        var (code, stderr) = await RunScriptAsync(report, png, cancellationToken);

        Assert.That(code, Is.Zero, () => $"tools/report-screenshot.sh failed (exit {code}):\n{stderr}");
        var bytes = await File.ReadAllBytesAsync(png, cancellationToken);
        Assert.That(bytes[..8], Is.EqualTo(s_pngSignature));

        // A blank 1400×900 page compresses to a few KB; lanes, marks and text make it much larger.
        Assert.That(bytes.Length, Is.GreaterThan(30_000), "the screenshot looks blank");
        var kept = Path.Combine(TestContext.CurrentContext.WorkDirectory, "report-screenshot.png");
        File.Copy(png, kept, overwrite: true);
        File.Copy(report, Path.ChangeExtension(kept, ".html"), overwrite: true);
        TestContext.AddTestAttachment(kept, "the sample report, first screen");
        Directory.Delete(dir, recursive: true);
    }

    private static async Task<(int Code, string Stderr)> RunScriptAsync(string report, string png, CancellationToken cancellationToken)
    {
        var script = Path.Combine(RepositoryRoot(), "tools", "report-screenshot.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(report);
        start.ArgumentList.Add(png);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await stdout;
        return (process.ExitCode, await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ContainmentLab.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no ContainmentLab.sln above {TestContext.CurrentContext.TestDirectory}");
    }
}
