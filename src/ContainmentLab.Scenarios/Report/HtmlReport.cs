using System.Globalization;
using System.Net;
using System.Text;

namespace ContainmentLab.Scenarios.Report;

/// <summary>
/// Writes fixture results as one self-contained HTML file: a summary table, then per fixture a timeline (inline SVG,
/// one lane per session plus <c>host</c> and <c>agent</c>, hover titles on every mark) and the failures. Inline CSS,
/// no script, no external resource: it opens from disk in any browser, offline. Every piece of fixture text is
/// HTML-escaped (fixtures are user input).
/// </summary>
public static partial class HtmlReport
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    /// <summary>Writes the report to a file (UTF-8, no BOM), replacing it.</summary>
    public static void Write(IReadOnlyList<FixtureResult> results, string path)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        Write(results, writer);
    }

    /// <summary>Writes the report to <paramref name="output"/>.</summary>
    public static void Write(IReadOnlyList<FixtureResult> results, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(output);
        var html = new StringBuilder();
        var passed = results.Count(r => r.Verdict == Verdict.Passed);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>ContainmentLab report: ").Append(passed.ToString(s_inv)).Append(" of ").Append(results.Count.ToString(s_inv))
            .Append(" fixtures passed</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append("<h1>ContainmentLab report</h1>\n<p class=\"sub\">").Append(passed.ToString(s_inv)).Append(" of ")
            .Append(results.Count.ToString(s_inv)).Append(" fixtures passed. Hover a mark for its details.</p>\n");
        AppendSummary(html, results);
        for (var i = 0; i < results.Count; i++)
        {
            AppendFixture(html, results[i], i);
        }

        html.Append("</body>\n</html>\n");
        output.Write(html.ToString());
        output.Flush();
    }

    private static void AppendSummary(StringBuilder html, IReadOnlyList<FixtureResult> results)
    {
        html.Append("<table class=\"summary\">\n<thead><tr><th>fixture</th><th>guarantees</th><th>verdict</th><th>stop latency</th><th>duration</th></tr></thead>\n<tbody>\n");
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            html.Append("<tr><td><a href=\"#fixture-").Append(i.ToString(s_inv)).Append("\">").Append(Escape(r.Name)).Append("</a>");
            if (r.Description.Length > 0)
            {
                html.Append("<div class=\"desc\">").Append(Escape(r.Description)).Append("</div>");
            }

            html.Append("</td><td>");
            AppendGuaranteeBadges(html, r.Guarantees);
            html.Append("</td><td>");
            AppendVerdict(html, r.Verdict);
            html.Append("</td><td class=\"num\">").Append(r.StopLatency is { } latency ? FormatSpan(latency) : "—")
                .Append("</td><td class=\"num\">").Append(FormatSpan(r.Duration)).Append("</td></tr>\n");
        }

        html.Append("</tbody>\n</table>\n");
    }

    private static void AppendFixture(StringBuilder html, FixtureResult r, int index)
    {
        html.Append("<section class=\"fixture\" id=\"fixture-").Append(index.ToString(s_inv)).Append("\">\n<h2>");
        AppendVerdict(html, r.Verdict);
        html.Append(' ').Append(Escape(r.Name)).Append("</h2>\n<p class=\"meta\"><code>").Append(Escape(r.Path)).Append("</code>");
        html.Append(" · duration ").Append(FormatSpan(r.Duration));
        html.Append(" · stop latency ").Append(r.StopLatency is { } latency ? FormatSpan(latency) : "—");
        html.Append(" · ").Append(r.Timeline.Count.ToString("N0", s_inv)).Append(" timeline entries");
        if (r.TranscriptPath is { } transcript)
        {
            html.Append(" · transcript <code>").Append(Escape(transcript)).Append("</code>");
        }

        html.Append("</p>\n");
        if (r.Description.Length > 0)
        {
            html.Append("<p class=\"desc\">").Append(Escape(r.Description)).Append("</p>\n");
        }

        if (r.Error is { } error)
        {
            html.Append("<p class=\"error\"><strong>error:</strong> ").Append(Escape(error)).Append("</p>\n");
        }

        AppendTimeline(html, r);
        AppendFailures(html, r);
        html.Append("</section>\n");
    }

    private static void AppendFailures(StringBuilder html, FixtureResult r)
    {
        var violated = r.Guarantees.Where(g => !g.Held).ToList();
        if (violated.Count == 0 && r.Failures.Count == 0)
        {
            return;
        }

        html.Append("<h3>Failures</h3>\n<ol class=\"failures\">\n");
        foreach (var g in violated)
        {
            html.Append("<li><span class=\"exp\">guarantee ").Append(Escape(g.Id)).Append(" violated</span>");
            if (g.Violation is { } violation)
            {
                html.Append("<div>first offending record:</div><pre>").Append(Escape(violation)).Append("</pre>");
            }

            html.Append("</li>\n");
        }

        foreach (var f in r.Failures)
        {
            html.Append("<li><span class=\"exp\">").Append(Escape(f.Expectation)).Append("</span>");
            if (f.SessionId is { } session)
            {
                html.Append(" <span class=\"tag\">session ").Append(Escape(session)).Append("</span>");
            }

            if (f.Location is { } location)
            {
                html.Append(" <code class=\"loc\">").Append(Escape(location)).Append("</code>");
            }

            html.Append("<div>").Append(Escape(f.Detail)).Append("</div>");
            html.Append("<div>first offending record:</div><pre>").Append(f.FirstOffendingRecord is { } record ? Escape(record) : "(none)").Append("</pre></li>\n");
        }

        html.Append("</ol>\n");
    }

    private static void AppendGuaranteeBadges(StringBuilder html, IReadOnlyList<GuaranteeResult> guarantees)
    {
        if (guarantees.Count == 0)
        {
            html.Append('—');
            return;
        }

        foreach (var g in guarantees)
        {
            html.Append("<span class=\"badge ").Append(g.Held ? "held" : "violated").Append("\" title=\"")
                .Append(Escape(g.Held ? $"{g.Id} held" + (GuaranteeChecks.Evidence(g.Id) is { } evidence ? $" ({evidence})" : string.Empty) : $"{g.Id} violated: {g.Violation}")).Append("\">")
                .Append(Escape(g.Id)).Append(g.Held ? " ✓" : " ✗").Append("</span> ");
        }
    }

    private static void AppendVerdict(StringBuilder html, Verdict verdict)
    {
        var (css, word) = verdict switch
        {
            Verdict.Passed => ("passed", "passed"),
            Verdict.Failed => ("failed", "FAILED"),
            _ => ("invalid", "invalid"),
        };
        html.Append("<span class=\"verdict ").Append(css).Append("\">").Append(word).Append("</span>");
    }

    /// <summary>HTML-escapes text for element content and quoted attribute values alike.</summary>
    internal static string Escape(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);

    internal static string FormatSpan(TimeSpan span)
    {
        var ms = span.TotalMilliseconds;
        return ms switch
        {
            < 1 => ms.ToString("0.###", s_inv) + " ms",
            < 100 => ms.ToString("0.#", s_inv) + " ms",
            < 1000 => ms.ToString("0", s_inv) + " ms",
            < 60_000 => span.TotalSeconds.ToString("0.###", s_inv) + " s",
            _ => ((int)span.TotalMinutes).ToString(s_inv) + " min " + span.Seconds.ToString(s_inv) + " s",
        };
    }

    private const string Css = """
        body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 16px 24px; color: #1d232a; background: #fff; }
        h1 { font-size: 20px; margin: 0 0 2px; }
        h2 { font-size: 17px; margin: 0 0 4px; }
        h3 { font-size: 14px; margin: 10px 0 4px; }
        .sub, .meta { color: #56606b; margin: 0 0 8px; }
        .desc { color: #39424c; font-size: 13px; }
        table.summary { border-collapse: collapse; margin: 8px 0 16px; min-width: 900px; }
        table.summary th, table.summary td { border: 1px solid #d4d9de; padding: 4px 10px; text-align: left; vertical-align: top; }
        table.summary th { background: #f1f3f5; font-weight: 600; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        a { color: #1f5fbf; }
        .badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; margin: 1px 0; white-space: nowrap; }
        .badge.held { background: #dcf3e2; color: #17652f; }
        .badge.violated { background: #fbe0e0; color: #9b1c1c; font-weight: 600; }
        .verdict { display: inline-block; padding: 0 8px; border-radius: 4px; font-size: 12px; font-weight: 700; color: #fff; vertical-align: 2px; }
        .verdict.passed { background: #2f8a4a; }
        .verdict.failed { background: #c62828; }
        .verdict.invalid { background: #8a6d00; }
        section.fixture { border-top: 2px solid #e3e7eb; padding-top: 10px; margin-top: 14px; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: #39424c; margin: 4px 0; }
        .legend span { display: inline-flex; align-items: center; gap: 4px; }
        svg.timeline { display: block; background: #fff; }
        svg.timeline text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: #39424c; }
        svg.timeline text.lane { font-size: 12px; font-weight: 600; fill: #1d232a; }
        .error { color: #9b1c1c; }
        ol.failures li { margin-bottom: 6px; }
        .exp { font-weight: 600; }
        .tag { background: #eef1f4; border-radius: 3px; padding: 0 4px; font-size: 12px; }
        code.loc { color: #56606b; }
        pre { background: #f6f8fa; border: 1px solid #e3e7eb; padding: 4px 8px; margin: 2px 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; }

        """;
}
