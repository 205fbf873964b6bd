using System.Globalization;
using System.Text.RegularExpressions;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Report;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>The HTML report built from hand-made results: the summary, the lanes and marks, aggregation, escaping, no external resource.</summary>
[Category("Fixtures")]
public sealed partial class HtmlReportTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static TimelineEntry At(double ms, string lane, string kind, string detail = "") => new(Ms(ms), lane, kind, detail);

    private static FixtureResult Result(
        string name,
        IReadOnlyList<TimelineEntry> timeline,
        IReadOnlyList<string> sessions,
        Verdict verdict = Verdict.Passed,
        IReadOnlyList<GuaranteeResult>? guarantees = null,
        IReadOnlyList<ExpectationFailure>? failures = null,
        TimeSpan? stopLatency = null,
        string description = "",
        string? error = null) =>
        new(name, $"fixtures/{name}.yaml", description, verdict, guarantees ?? [], failures ?? [], stopLatency,
            timeline.Count == 0 ? TimeSpan.Zero : timeline.Max(e => e.At) + Ms(10), timeline, sessions, null, error);

    /// <summary>
    /// Three fixtures: a 2,000-call storm over three sessions with one stopped, an agent that ignores the cancel and is
    /// escalated (failed), and an invalid fixture. Also the sample the screenshot is taken of.
    /// </summary>
    internal static IReadOnlyList<FixtureResult> SampleResults()
    {
        var storm = new List<TimelineEntry> { At(0, "host", "AgentStarted", "pid 4242") };
        string[] sessions = ["sess-1", "sess-2", "sess-3"];
        foreach (var s in sessions)
        {
            storm.Add(At(2, s, "prompt", "storm 2,000 desktop calls"));
            storm.Add(At(3, s, "TurnStarted", "turn 1"));
        }

        var calls = 0;
        for (var i = 0; calls < 2000; i++)
        {
            foreach (var s in sessions)
            {
                var t = 5 + (i * 0.9);
                if ((s == "sess-1" && t > 400) || calls == 2000)
                {
                    continue;
                }

                calls++;
                storm.Add(At(t, s, "ToolDispatched", $"{s}/t{i + 1} desktop.press seq {calls}"));
                storm.Add(At(t + 0.3, s, "ToolCompleted", $"{s}/t{i + 1} ok"));
            }
        }

        storm.Add(At(400, "host", "interrupt", "Stop sess-1 after 200 dispatches"));
        storm.Add(At(400.1, "sess-1", "InterruptRequested", "Interrupt(sess-1)"));
        storm.Add(At(400.2, "sess-1", "CancelSent", "session/cancel"));
        for (var k = 0; k < 8; k++)
        {
            storm.Add(At(400.5 + (k * 0.2), "sess-1", "ToolSkipped", $"sess-1/t{446 + k} interrupted"));
        }

        storm.Add(At(405.9, "sess-1", "AckReceived", "cancelled after 5.9 ms"));
        storm.Add(At(406, "sess-1", "TurnEnded", "Cancelled"));
        foreach (var s in sessions[1..])
        {
            storm.Add(At(1005, s, "TurnEnded", "EndTurn"));
        }

        storm.Add(At(1010, "agent", "AgentExited", "exit code 0 (stdin closed)"));

        var ignored = new List<TimelineEntry>
        {
            At(0, "host", "AgentStarted", "pid 4243"),
            At(10, "sess-1", "prompt", "deploy"),
            At(20, "sess-1", "ToolDispatched", "sess-1/t1 http.request"),
            At(1020, "sess-1", "ToolHangCanceled", "sess-1/t1 http.request silent for 1 s"),
            At(1500, "host", "interrupt", "Stop"),
            At(1500.2, "sess-1", "InterruptRequested", "Interrupt(sess-1)"),
            At(1500.4, "sess-1", "CancelSent", "session/cancel"),
            At(1600, "sess-1", "ToolSkipped", "sess-1/t2 interrupted"),
            At(6500.4, "sess-1", "AckTimedOut", "no ack within 5 s"),
            At(6500.5, "sess-1", "Escalated", "agent ignored session/cancel: killed"),
            At(6520, "agent", "AgentExited", "signal 9 (SIGKILL)"),
        };

        return
        [
            Result("storm-stop-one", storm, sessions, guarantees: [new("G1", true, null), new("G2", true, null), new("G3", true, null)],
                stopLatency: Ms(5.9), description: "Three sessions storm 2,000 calls; Stop one after 200 dispatches."),
            Result("ignored-cancel", ignored, ["sess-1"], Verdict.Failed,
                guarantees: [new("G3", true, null), new("G4", false, "{\"seq\":7,\"kind\":\"dispatched\",\"toolCallId\":\"sess-1/t1\"}")],
                failures: [new("events: ToolSkipped count 0 (session sess-1)", "sess-1", "1 ToolSkipped, expected 0", "{\"kind\":\"skipped\",\"toolCallId\":\"sess-1/t2\"}", "fixtures/ignored-cancel.yaml:14:7")],
                stopLatency: Ms(5000.3), description: "An agent that ignores session/cancel is escalated at AckTimeout."),
            Result("typo", [], [], Verdict.Invalid, description: "A fixture with a typo.", error: "fixtures/typo.yaml:4:9: unknown key 'atfer'"),
        ];
    }

    private static string Render(IReadOnlyList<FixtureResult> results)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        HtmlReport.Write(results, output);
        return output.ToString();
    }

    [GeneratedRegex("<text class=\"lane\"[^>]*><title>([^<]*)</title>")]
    private static partial Regex LaneLabel();

    [GeneratedRegex("data-kind=\"([A-Za-z]+)\"")]
    private static partial Regex DataKind();

    [GeneratedRegex("<section class=\"fixture\" id=\"fixture-0\">(.*?)</section>", RegexOptions.Singleline)]
    private static partial Regex FirstSection();

    [GeneratedRegex(@"<title>([\d,]+) ToolDispatched(?: from|, )|<title>[\d.]+ s ToolDispatched:")]
    private static partial Regex DispatchTitle();

    [Test]
    public void Write_Results_SummaryHasOneRowPerFixture()
    {
        var html = Render(SampleResults());

        var summary = html[html.IndexOf("<table class=\"summary\">", StringComparison.Ordinal)..html.IndexOf("</table>", StringComparison.Ordinal)];
        Assert.That(Regex.Matches(summary, "<tr><td>").Count, Is.EqualTo(3));
        Assert.That(summary, Does.Contain("<a href=\"#fixture-0\">storm-stop-one</a>"));
        Assert.That(summary, Does.Contain("<span class=\"verdict failed\">FAILED</span>"));
        Assert.That(summary, Does.Contain("<span class=\"verdict invalid\">invalid</span>"));
        Assert.That(summary, Does.Contain("<td class=\"num\">5.9 ms</td>"));
        Assert.That(summary, Does.Contain("<td class=\"num\">5 s</td><td class=\"num\">6.53 s</td>"));
        Assert.That(summary, Does.Contain(">G4 ✗</span>"));
        Assert.That(summary, Does.Contain(">G1 ✓</span>"));
        Assert.That(html, Does.Contain("<title>ContainmentLab report: 1 of 3 fixtures passed</title>"));
    }

    [Test]
    public void Write_Timeline_HasOneLanePerSessionPlusHostAndAgentInOrder()
    {
        var html = Render(SampleResults());

        var section = FirstSection().Match(html).Groups[1].Value;
        Assert.That(LaneLabel().Matches(section).Select(m => m.Groups[1].Value), Is.EqualTo(new[] { "host", "sess-1", "sess-2", "sess-3", "agent" }));
    }

    [Test]
    public void Write_Timeline_LaneNamedOnlyByTheTimeline_GetsItsOwnLane()
    {
        var html = Render([Result("x", [At(1, "sess-9", "prompt"), At(2, "host", "interrupt_all")], ["sess-1"])]);

        Assert.That(LaneLabel().Matches(html).Select(m => m.Groups[1].Value), Is.EqualTo(new[] { "host", "sess-1", "sess-9", "agent" }));
    }

    [Test]
    public void Write_Timeline_DrawsAMarkForEveryKindOfEvent()
    {
        var html = Render(SampleResults());

        var kinds = DataKind().Matches(html).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.That(kinds, Is.SupersetOf(new[] { "Prompt", "Dispatch", "Skip", "Interrupt", "Ack", "WatchdogCancel", "Escalation", "AgentExit", "Other" }));
        Assert.That(html, Does.Contain("<title>1.020 s ToolHangCanceled: sess-1/t1 http.request silent for 1 s</title>"));
        Assert.That(html, Does.Contain("\n6.501 s Escalated: agent ignored session/cancel: killed</title>"), "AckTimedOut and Escalated 0.1 ms apart share one mark");
        Assert.That(html, Does.Contain("<title>6.520 s AgentExited: signal 9 (SIGKILL)</title>"));
    }

    [Test]
    public void Write_Legend_NamesEveryCategoryInEveryFixture()
    {
        var html = Render(SampleResults());

        Assert.That(Regex.Matches(html, "<div class=\"legend\">").Count, Is.EqualTo(3));
        foreach (var label in new[] { "prompt / turn start", "tool dispatched", "tool skipped (gate closed)", "interrupt / cancel sent", "cancel acknowledged", "watchdog cancel (ToolHangCanceled)", "escalation / ack timeout", "agent exit / host killed" })
        {
            Assert.That(html, Does.Contain(">" + label + "</span>"));
        }
    }

    [Test]
    public void Write_Storm_AggregatesDenseRunsAndKeepsEveryCallCounted()
    {
        var html = Render(SampleResults());

        var section = FirstSection().Match(html).Groups[1].Value;
        var bars = Regex.Matches(section, "data-kind=\"Dispatch\"").Count;
        var counted = DispatchTitle().Matches(section).Sum(m => m.Groups[1].Success ? int.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) : 1);
        Assert.That(counted, Is.EqualTo(2000), "every dispatch is in exactly one bar's title");
        Assert.That(bars, Is.LessThan(3 * 300), "at most one bar every few pixels per lane");
        Assert.That(section.Length, Is.LessThan(400_000), "a 2,000-call storm stays a small page");
    }

    [Test]
    public void Write_Failures_ListExpectationLocationAndFirstOffendingRecord()
    {
        var html = Render(SampleResults());

        Assert.That(html, Does.Contain("<li><span class=\"exp\">events: ToolSkipped count 0 (session sess-1)</span> <span class=\"tag\">session sess-1</span> <code class=\"loc\">fixtures/ignored-cancel.yaml:14:7</code><div>1 ToolSkipped, expected 0</div><div>first offending record:</div><pre>{&quot;kind&quot;:&quot;skipped&quot;,&quot;toolCallId&quot;:&quot;sess-1/t2&quot;}</pre></li>"));
        Assert.That(html, Does.Contain("<li><span class=\"exp\">guarantee G4 violated</span><div>first offending record:</div><pre>{&quot;seq&quot;:7,"));
        Assert.That(html, Does.Contain("<p class=\"error\"><strong>error:</strong> fixtures/typo.yaml:4:9: unknown key &#39;atfer&#39;</p>"));
        Assert.That(html, Does.Contain("No timeline was recorded."));
    }

    [Test]
    public void Write_FixtureText_IsEscapedEverywhere()
    {
        const string Evil = "<script>alert('x')</script>\"&<img src=x onerror=alert(1)>";
        var result = Result(
            Evil,
            [At(1, Evil, "prompt", Evil), At(2, Evil, Evil, Evil), At(3, "host", "interrupt", Evil)],
            [Evil],
            Verdict.Failed,
            guarantees: [new(Evil, false, Evil)],
            failures: [new(Evil, Evil, Evil, Evil, Evil)],
            stopLatency: Ms(1),
            description: Evil,
            error: Evil) with { Path = Evil, TranscriptPath = Evil };

        var html = Render([result]);

        Assert.That(html, Does.Not.Contain("<script"));
        Assert.That(html, Does.Not.Contain("<img"));
        Assert.That(html, Does.Not.Contain("alert('x')"));
        Assert.That(html, Does.Contain("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;&lt;img src=x onerror=alert(1)&gt;"));
        Assert.That(Regex.Matches(html, "&lt;script&gt;").Count, Is.GreaterThanOrEqualTo(10));
    }

    [Test]
    public void Write_Report_IsSelfContained()
    {
        var html = Render(SampleResults());

        Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("https://"));
        Assert.That(html, Does.Not.Contain("<script").And.Not.Contain("<link").And.Not.Contain("<img").And.Not.Contain("<iframe"));
        Assert.That(html, Does.Not.Contain(" src=").And.Not.Contain("url(").And.Not.Contain("@import"));
        Assert.That(Regex.Matches(html, "href=\"([^\"]*)\"").Select(m => m.Groups[1].Value), Is.All.StartsWith("#fixture-"));
        Assert.That(html, Does.StartWith("<!DOCTYPE html>"));
        Assert.That(html, Does.Contain("<style>"));
    }

    [Test]
    public void Write_Path_WritesTheSameReportAsUtf8WithoutBom()
    {
        var path = Path.Combine(Path.GetTempPath(), $"report-{Guid.NewGuid():N}.html");
        try
        {
            HtmlReport.Write(SampleResults(), path);

            var bytes = File.ReadAllBytes(path);
            Assert.That(bytes[..3], Is.Not.EqualTo(new byte[] { 0xEF, 0xBB, 0xBF }));
            Assert.That(System.Text.Encoding.UTF8.GetString(bytes), Is.EqualTo(Render(SampleResults())));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Write_NoResults_IsAnEmptyButValidPage()
    {
        var html = Render([]);

        Assert.That(html, Does.Contain("0 of 0 fixtures passed"));
        Assert.That(html, Does.EndWith("</html>\n"));
    }
}
