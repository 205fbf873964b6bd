using System.Text.Json;
using ContainmentLab.Scenarios;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>The loader accepts the format and points every error at file:line:column; the schema stays in sync with it.</summary>
[TestFixture]
[Category("Fixtures")]
public sealed class FixtureLoaderTests
{
    private const string Valid = """
        name: t
        description: a test
        agent:
          script:
            prompts:
              - steps:
                  - say: hi
        timeline:
          - prompt: s1
        expect:
          turns:
            s1: completed
        """;

    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("cl-loader-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    private string Write(string text)
    {
        var path = Path.Combine(_directory, "f.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    private FixtureException LoadFails(string text)
    {
        var path = Write(text);
        return Assert.Throws<FixtureException>(() => FixtureLoader.Load(path))!;
    }

    [Test]
    public void Load_ValidFixture_ReadsIt()
    {
        var fixture = FixtureLoader.Load(Write(Valid));

        Assert.That(fixture.Name, Is.EqualTo("t"));
        Assert.That(fixture.Sessions, Is.EqualTo(new[] { "s1" }));
        Assert.That(fixture.Timeline.Single().Kind, Is.EqualTo(ActionKind.Prompt));
        Assert.That(fixture.Agent.Kind, Is.EqualTo(AgentKind.InlineScript));
    }

    [Test]
    public void Load_TypoInKey_FailsAtTheKey()
    {
        var path = Write(Valid.Replace("description:", "descripton:", StringComparison.Ordinal));

        var ex = Assert.Throws<FixtureException>(() => FixtureLoader.Load(path))!;

        Assert.That(ex.Message, Does.StartWith($"{path}:2:1: unknown key 'descripton' in the fixture (did you mean 'description'?)"));
    }

    [Test]
    public void Load_WrongType_FailsAtTheValue()
    {
        var ex = LoadFails(Valid + "\nhost:\n  ack_timeout: [1]\n");

        Assert.That((ex.Line, ex.Column), Is.EqualTo((14, 16)));
        Assert.That(ex.Problem, Does.Contain("ack_timeout must be a duration"));
    }

    [Test]
    public void Load_MissingScriptFile_FailsAtTheValue()
    {
        var ex = LoadFails(Valid.Replace("""
              script:
                prompts:
                  - steps:
                      - say: hi
            """, "  script_file: scripts/nope.yaml", StringComparison.Ordinal));

        Assert.That(ex.Message, Does.StartWith($"{Path.Combine(_directory, "f.yaml")}:4:16: script_file: fake-agent script 'scripts/nope.yaml' not found"));
    }

    [Test]
    public void Load_ErrorInsideInlineScript_PointsIntoTheFixture()
    {
        var ex = LoadFails(Valid.Replace("- say: hi", "- sya: hi", StringComparison.Ordinal));

        Assert.That((ex.Line, ex.Column), Is.EqualTo((7, 13)));
        Assert.That(ex.Problem, Does.StartWith("in agent.script: "));
    }

    [TestCase("timeline:\n  - prompt: s9\n", 10, 13, "unknown session 's9'")]
    [TestCase("timeline:\n  - interrupt: s1\n    at: 2 seconds\n", 11, 9, "at must be a duration")]
    [TestCase("timeline:\n  - interrupt: s1\n    after: { event: ToolHung }\n", 11, 21, "unknown event 'ToolHung'")]
    [TestCase("timeline:\n  - prompt: s1\n  - kill_host: true\n  - interrupt: s1\n", 12, 5, "interrupt after kill_host: nothing runs once the host is killed")]
    public void Load_BadTimeline_FailsAtTheValue(string timeline, int line, int column, string problem)
    {
        var ex = LoadFails(Valid.Replace("timeline:\n  - prompt: s1\n", "sessions: [s1]\n" + timeline, StringComparison.Ordinal));

        Assert.That((ex.Line, ex.Column, ex.Problem), Is.EqualTo((line, column, ex.Problem)));
        Assert.That(ex.Problem, Does.Contain(problem));
    }

    [Test]
    public void Load_EveryFixtureInTheRepository_Loads()
    {
        var root = Path.Combine(RepositoryPaths.Root, "fixtures");
        var files = Directory.GetFiles(root, "*.yaml").Concat(Directory.Exists(Path.Combine(root, "hostile")) ? Directory.GetFiles(Path.Combine(root, "hostile"), "*.yaml") : []);

        Assert.Multiple(() =>
        {
            foreach (var file in files)
            {
                Assert.DoesNotThrow(() => FixtureLoader.Load(file), file);
            }
        });
    }

    [Test]
    public void Schema_IsValidJson_AndListsExactlyTheLoadersTopLevelKeys()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "fixtures", "schema.json")));
        var root = schema.RootElement;

        Assert.That(root.GetProperty("$schema").GetString(), Is.EqualTo("https://json-schema.org/draft/2020-12/schema"));
        Assert.That(root.GetProperty("additionalProperties").GetBoolean(), Is.False);
        Assert.That(root.GetProperty("properties").EnumerateObject().Select(p => p.Name), Is.EquivalentTo(FixtureLoader.TopLevelKeys));
    }
}
