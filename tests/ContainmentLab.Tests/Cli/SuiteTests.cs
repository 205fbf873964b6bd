using System.Xml.Linq;
using ContainmentLab.Cli.Suite;
using ContainmentLab.Scenarios;
using Spectre.Console.Testing;

namespace ContainmentLab.Tests.Cli;

[TestFixture]
[Category("Fixtures")]
public sealed class SuiteTests
{
    private DirectoryInfo _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("cl-suite-");
        foreach (var name in new[] { "a-storm.yaml", "b-crash.yaml", "c-storm-global.yaml", "hostile/d-bytes.yaml", "scripts/not-a-fixture.yaml", "e.txt" })
        {
            var path = Path.Combine(_dir.FullName, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "name: x\n");
        }
    }

    [TearDown]
    public void TearDown() => _dir.Delete(recursive: true);

    private static FixtureResult Result(string name, Verdict verdict, TimeSpan? latency = null) => new(
        name, $"fixtures/{name}.yaml", "d", verdict,
        [new GuaranteeResult("G1", verdict != Verdict.Failed, verdict == Verdict.Failed ? "seq 9 after seq 4" : null)],
        verdict == Verdict.Failed ? [new ExpectationFailure("events: ToolSkipped count 0", "sess-1", "saw 3", "ToolSkipped sess-1/t7", "f.yaml:12:7")] : [],
        latency, TimeSpan.FromSeconds(1.5), [], ["sess-1"], null, verdict == Verdict.Invalid ? "f.yaml:3:1: unknown key 'timelin'" : null);

    [Test]
    public void Find_SkipsScriptsAndNonYaml_SortedAndRecursive()
    {
        var found = FixtureDiscovery.Find(_dir.FullName, null).Select(p => Path.GetRelativePath(_dir.FullName, p));

        Assert.That(found, Is.EqualTo(new[] { "a-storm.yaml", "b-crash.yaml", "c-storm-global.yaml", "hostile/d-bytes.yaml" }));
    }

    [TestCase("*storm*", new[] { "a-storm", "c-storm-global" })]
    [TestCase("hostile/*", new[] { "d-bytes" })]
    [TestCase("b-crash", new[] { "b-crash" })]
    public void Find_Filter_MatchesNameOrRelativePath(string filter, string[] expected)
    {
        var found = FixtureDiscovery.Find(_dir.FullName, filter).Select(Path.GetFileNameWithoutExtension);

        Assert.That(found, Is.EqualTo(expected));
    }

    [Test]
    public void Shards_TogetherRunEachFixtureOnce()
    {
        var all = FixtureDiscovery.Find(_dir.FullName, null);
        Assert.That(Shard.TryParse("1/2", out var first, out _), Is.True);
        Assert.That(Shard.TryParse("2/2", out var second, out _), Is.True);

        var one = first.Take(all);
        var two = second.Take(all);

        Assert.That(one.Concat(two), Is.EquivalentTo(all));
        Assert.That(one.Intersect(two), Is.Empty);
        Assert.That(one, Is.Not.Empty);
        Assert.That(two, Is.Not.Empty);
    }

    [TestCase("0/2")]
    [TestCase("3/2")]
    [TestCase("1-2")]
    [TestCase("a/b")]
    public void Shard_Bad_SaysWhatIsExpected(string text)
    {
        Assert.That(Shard.TryParse(text, out _, out var error), Is.False);
        Assert.That(error, Does.Contain("--shard"));
    }

    [Test]
    public void ExitCode_InvalidBeatsFailedBeatsPassed()
    {
        Assert.That(SuiteRunner.ExitCode([Result("a", Verdict.Passed)]), Is.EqualTo(0));
        Assert.That(SuiteRunner.ExitCode([Result("a", Verdict.Passed), Result("b", Verdict.Failed)]), Is.EqualTo(1));
        Assert.That(SuiteRunner.ExitCode([Result("a", Verdict.Failed), Result("b", Verdict.Invalid)]), Is.EqualTo(2));
    }

    [Test]
    public void JUnit_OneCasePerFixture_WithFailureAndError()
    {
        var xml = JUnitReport.Create([Result("ok", Verdict.Passed), Result("bad", Verdict.Failed), Result("typo", Verdict.Invalid)], TimeSpan.FromSeconds(4));

        var suite = xml.Root!.Element("testsuite")!;
        Assert.That((string?)suite.Attribute("tests"), Is.EqualTo("3"));
        Assert.That((string?)suite.Attribute("failures"), Is.EqualTo("1"));
        Assert.That((string?)suite.Attribute("errors"), Is.EqualTo("1"));
        var failure = suite.Elements("testcase").Single(t => (string?)t.Attribute("name") == "bad").Element("failure")!;
        Assert.That((string?)failure.Attribute("message"), Is.EqualTo("events: ToolSkipped count 0"));
        Assert.That(failure.Value, Does.Contain("first offending record: ToolSkipped sess-1/t7").And.Contain("f.yaml:12:7"));
        Assert.That((string?)suite.Elements("testcase").Single(t => (string?)t.Attribute("name") == "typo").Element("error")!.Attribute("message"), Does.Contain("unknown key"));
        Assert.That(() => XDocument.Parse(xml.ToString()), Throws.Nothing);
    }

    [Test]
    public async Task RunAsync_PlainOutput_OneLinePerFixture_ResultsInOrder_AtMostParallelismAtOnce()
    {
        var console = new TestConsole();
        console.Profile.Width = 200;
        var running = 0;
        var maxRunning = 0;
        var runner = new SuiteRunner(console, async (path, _, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref maxRunning, now);
            await Task.Yield();
            await Task.Delay(20, ct);
            Interlocked.Decrement(ref running);
            return Result(Path.GetFileNameWithoutExtension(path), path.Contains("crash", StringComparison.Ordinal) ? Verdict.Failed : Verdict.Passed);
        }) { Parallelism = 2 };
        var fixtures = FixtureDiscovery.Find(_dir.FullName, null);

        var results = await runner.RunAsync(fixtures);
        runner.WriteVerdicts(results);

        Assert.That(results.Select(r => r.Name), Is.EqualTo(fixtures.Select(Path.GetFileNameWithoutExtension)));
        Assert.That(maxRunning, Is.InRange(1, 2));
        Assert.That(console.Lines.Count(l => l.StartsWith('[')), Is.EqualTo(4));
        Assert.That(console.Output, Does.Contain("FAIL b-crash").And.Contain("3 of 4 fixtures passed").And.Contain("first offending record"));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
