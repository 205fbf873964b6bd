using ContainmentLab.Cli;

namespace ContainmentLab.Tests.Cli;

/// <summary>The suite command's exit codes: 0 all held, 1 an expectation failed, 2 invalid input.</summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[NonParallelizable]
public sealed class SuiteCommandTests
{
    private DirectoryInfo _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("cl-suite-cmd-");

    [TearDown]
    public void TearDown() => _dir.Delete(recursive: true);

    private const string Fixture = """
        name: tiny
        description: one press, then end_turn
        agent:
          script:
            prompts:
              - steps:
                  - tool: desktop.press
                    arguments: { target: OK }
        timeline:
          - prompt: s1
        expect:
          guarantees: [G3, G8]
          events:
            - { name: ToolDispatched, session: s1, count: COUNT }
        """;

    private async Task<int> SuiteAsync(string yaml, params string[] extra)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "tiny.yaml"), yaml);
        return await CliApp.Build().Parse(["suite", _dir.FullName, .. extra]).InvokeAsync();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Suite_AllHeld_Exits0_AndWritesJUnit()
    {
        var junit = Path.Combine(_dir.FullName, "out.xml");

        Assert.That(await SuiteAsync(Fixture.Replace("COUNT", "1", StringComparison.Ordinal), "--junit", junit), Is.Zero);
        Assert.That(File.ReadAllText(junit), Does.Contain("<testcase").And.Contain("name=\"tiny\""));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Suite_ExpectationViolated_Exits1()
    {
        Assert.That(await SuiteAsync(Fixture.Replace("COUNT", "0", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Suite_TypoInKey_Exits2()
    {
        Assert.That(await SuiteAsync(Fixture.Replace("COUNT", "1", StringComparison.Ordinal).Replace("timeline:", "timelin:", StringComparison.Ordinal)), Is.EqualTo(2));
    }

    [Test]
    public async Task Suite_BadShard_Exits2()
    {
        Assert.That(await SuiteAsync(Fixture, "--shard", "3/2"), Is.EqualTo(2));
    }
}
