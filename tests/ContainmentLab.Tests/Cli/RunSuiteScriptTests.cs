using System.Management.Automation.Language;

namespace ContainmentLab.Tests.Cli;

/// <summary>There is no pwsh here: PowerShell's own parser checks run-suite.ps1, so a syntax error fails CI.</summary>
[TestFixture]
public sealed class RunSuiteScriptTests
{
    private static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "assets", "run-suite.ps1");

    private static ScriptBlockAst Parse(string path, out ParseError[] errors) => Parser.ParseFile(path, out _, out errors);

    [Test]
    public void RunSuite_ParsesWithoutErrors()
    {
        Parse(ScriptPath, out var errors);

        Assert.That(errors.Select(e => $"run-suite.ps1:{e.Extent.StartLineNumber}:{e.Extent.StartColumnNumber}: {e.Message}"), Is.Empty);
    }

    [Test]
    public void RunSuite_BuildsTestsAndRunsTheFixtureSuiteThroughDotnet()
    {
        var ast = Parse(ScriptPath, out _);

        var dotnetCalls = ast.FindAll(a => a is CommandAst c && c.GetCommandName() == "dotnet", searchNestedScriptBlocks: true)
            .Cast<CommandAst>()
            .Select(c => string.Join(' ', c.CommandElements.Skip(1).Select(e => e.Extent.Text)))
            .ToList();

        Assert.That(dotnetCalls, Has.Some.StartsWith("build ContainmentLab.sln"));
        Assert.That(dotnetCalls, Has.Some.StartsWith("test ContainmentLab.sln"));
        Assert.That(dotnetCalls, Has.Some.StartsWith("run --project src/ContainmentLab.Cli").And.Contains("-- suite fixtures --junit"));
    }

    [Test]
    public void RunSuite_Bench_RunsTheSuiteAndComparesWithTheBaseline()
    {
        var ast = Parse(ScriptPath, out _);

        var parameters = ast.ParamBlock.Parameters.Select(p => p.Name.VariablePath.UserPath).ToList();
        var dotnetCalls = ast.FindAll(a => a is CommandAst c && c.GetCommandName() == "dotnet", searchNestedScriptBlocks: true)
            .Cast<CommandAst>()
            .Select(c => string.Join(' ', c.CommandElements.Skip(1).Select(e => e.Extent.Text)))
            .ToList();

        Assert.That(parameters, Does.Contain("Bench").And.Contain("Baseline"));
        Assert.That(dotnetCalls, Has.Some.StartsWith("run --project benchmarks/ContainmentLab.Benchmarks").And.Contains("--filter"));
        Assert.That(dotnetCalls, Has.Some.StartsWith("run --project src/ContainmentLab.Cli").And.Contains("bench compare"));
    }

    [Test]
    public void Parser_BrokenScript_ReportsLineAndColumn()
    {
        // The check above is only worth something if the parser really rejects a broken script.
        var broken = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}.ps1");
        File.WriteAllText(broken, "param(\n  [string] $x\nif ($x) { 'unclosed'\n");
        try
        {
            Parse(broken, out var errors);

            Assert.That(errors, Is.Not.Empty);
            Assert.That(errors[0].Extent.StartLineNumber, Is.GreaterThan(0));
        }
        finally
        {
            File.Delete(broken);
        }
    }
}
