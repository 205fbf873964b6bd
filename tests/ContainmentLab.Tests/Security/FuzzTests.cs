using System.Diagnostics;
using System.Globalization;
using System.Text;
using ContainmentLab.Bridge;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// G9 as a seeded fuzzer: recorded turns (Security/Transcripts) with their agent side mutated — truncated, spliced,
/// joined, duplicated, reordered, deleted, bit-flipped, garbage inserted, retargeted to other sessions, ids changed —
/// and sometimes an interrupt or the agent dying mid-line, replayed against the real bridge in process. Per case:
/// nothing escapes or hangs, the turn ends once, every agent request gets exactly one response (at most one after the
/// agent died), every malformed line a ProtocolViolation, G1 and G8 hold, no dispatch for a session that does not
/// exist, no handler error, no timer left, no write outside the sandbox.
/// </summary>
/// <remarks>
/// Seeds run from a base (CONTAINMENTLAB_FUZZ_BASE_SEED, else today's UTC date as yyyyMMdd) for
/// CONTAINMENTLAB_FUZZ_COUNT cases (default 1,000). A failure prints each failing seed; re-run exactly that case with
/// <c>CONTAINMENTLAB_FUZZ_SEED=&lt;seed&gt; dotnet test --filter FullyQualifiedName~FuzzTests.Fuzz_OneSeed</c>. The
/// mutation is a pure function of the seed; thread interleavings inside the bridge are not, so a rare race may need a
/// few re-runs of its seed.
/// </remarks>
[TestFixture]
[Category("G9")]
[Category("Fuzz")]
[NonParallelizable]
public sealed class FuzzTests
{
    private const int DefaultCount = 1000;

    // Enough failing cases to show a pattern; a bridge that stops answering makes every case wait out its bound.
    private const int StopAfterFailures = 10;
    private const string ReplayHint = "re-run one case: CONTAINMENTLAB_FUZZ_SEED={0} dotnet test tests/ContainmentLab.Tests --filter FullyQualifiedName~FuzzTests.Fuzz_OneSeed";

    private string _sandbox = null!;
    private IReadOnlyList<FuzzTranscript> _corpus = null!;

    [OneTimeSetUp]
    public void LoadCorpus()
    {
        _sandbox = Directory.CreateTempSubdirectory("cl-fuzz-").FullName;
        File.Delete(FuzzMutator.EscapeCanary);
        var directory = Path.Combine(AppContext.BaseDirectory, "Security", "Transcripts");
        _corpus = [.. Directory.GetFiles(directory, "*.ndjson").Order(StringComparer.Ordinal).Select(p => FuzzTranscript.Load(p, _sandbox))];
        Assert.That(_corpus, Has.Count.GreaterThanOrEqualTo(4), "the recorded corpus is copied next to the tests");
    }

    [OneTimeTearDown]
    public void RemoveSandbox() => Directory.Delete(_sandbox, recursive: true);

    [Test]
    [CancelAfter(30_000)]
    public async Task Replay_EachRecordedTurnUnmutated_CompletesWithNoViolation()
    {
        for (var i = 0; i < _corpus.Count; i++)
        {
            var result = await FuzzCase.RunAsync(0, [_corpus[i]], _sandbox, mutate: false);

            Assert.That(result.Failures, Is.Empty, result.Describe());
            Assert.That(result.End, Is.EqualTo(TurnEnd.Completed), result.Describe());
            Assert.That(result.Violations, Is.Zero, result.Describe());
        }
    }

    [Test]
    [CancelAfter(600_000)]
    public async Task Fuzz_MutatedTranscripts_InvariantsHold(CancellationToken cancellationToken)
    {
        var baseSeed = BaseSeed();
        var count = Environment.GetEnvironmentVariable("CONTAINMENTLAB_FUZZ_COUNT") is { Length: > 0 } c
            ? int.Parse(c, CultureInfo.InvariantCulture)
            : DefaultCount;
        TestContext.Progress.WriteLine($"fuzz: {count} cases, seeds {baseSeed}..{baseSeed + count - 1} (CONTAINMENTLAB_FUZZ_BASE_SEED={baseSeed})");

        var clock = Stopwatch.StartNew();
        var failed = new List<FuzzCaseResult>();
        var ends = new Dictionary<string, int>(StringComparer.Ordinal);
        var interrupted = 0;
        var crashed = 0;
        var violations = 0L;
        var idleDispatches = 0;
        for (var seed = baseSeed; seed < baseSeed + count && failed.Count < StopAfterFailures; seed++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = await FuzzCase.RunAsync(seed, _corpus, _sandbox);
            if (result.Failures.Count > 0)
            {
                failed.Add(result);
                TestContext.Progress.WriteLine($"FAILED {result.Describe()}: {string.Join(" | ", result.Failures)}");
            }

            var end = result.End?.ToString() ?? "none";
            ends[end] = ends.GetValueOrDefault(end) + 1;
            interrupted += result.Interrupt.StartsWith("Interrupt", StringComparison.Ordinal) ? 1 : 0;
            crashed += result.Interrupt.Contains("the agent dies", StringComparison.Ordinal) ? 1 : 0;
            violations += result.Violations;
            idleDispatches += result.IdleSessionDispatches;
        }

        var ran = ends.Values.Sum();
        var summary = $"{ran} cases in {clock.Elapsed.TotalSeconds:0.0} s (base seed {baseSeed}): turn ends {string.Join(", ", ends.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))}; "
            + $"{interrupted} interrupted; {crashed} agents died mid-turn; {violations} protocol violations; {idleDispatches} dispatches for the idle session";
        TestContext.Out.WriteLine(summary);

        if (failed.Count > 0)
        {
            var stopped = failed.Count >= StopAfterFailures ? $" (stopped after {StopAfterFailures} failing cases)" : string.Empty;
            var report = new StringBuilder($"{failed.Count} fuzz cases broke an invariant{stopped} ({summary}).\n");
            foreach (var result in failed.Take(10))
            {
                report.Append(CultureInfo.InvariantCulture, $"- {result.Describe()}\n    {string.Join("\n    ", result.Failures.Take(5))}\n    {string.Format(CultureInfo.InvariantCulture, ReplayHint, result.Seed)}\n");
            }

            Assert.Fail(report.ToString());
        }

        // A fuzzer that never reaches the interesting outcomes proves nothing: the mix must be there.
        Assert.That(ends.GetValueOrDefault(nameof(TurnEnd.Completed)), Is.GreaterThan(count / 10), summary);
        Assert.That(ends.GetValueOrDefault(nameof(TurnEnd.Cancelled)), Is.GreaterThan(0), summary);
        Assert.That(ends.GetValueOrDefault(nameof(TurnEnd.AgentExited)), Is.GreaterThan(0), summary);
        Assert.That(violations, Is.GreaterThan(count / 2), summary);
    }

    /// <summary>CONTAINMENTLAB_FUZZ_BASE_SEED, else today's UTC date as yyyyMMdd.</summary>
    private static int BaseSeed() => Environment.GetEnvironmentVariable("CONTAINMENTLAB_FUZZ_BASE_SEED") is { Length: > 0 } b
        ? int.Parse(b, CultureInfo.InvariantCulture)
        : int.Parse(DateTime.UtcNow.ToString("yyyyMMdd", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    [Test]
    [CancelAfter(60_000)]
    public async Task Fuzz_OneSeed()
    {
        // Without a seed to replay, the run's first case: the entry point a failure's hint names stays exercised.
        var seed = Environment.GetEnvironmentVariable("CONTAINMENTLAB_FUZZ_SEED") is { Length: > 0 } text
            ? int.Parse(text, CultureInfo.InvariantCulture)
            : BaseSeed();
        var result = await FuzzCase.RunAsync(seed, _corpus, _sandbox);
        TestContext.Out.WriteLine(result.Describe());

        Assert.That(result.Failures, Is.Empty, result.Describe());
    }
}
