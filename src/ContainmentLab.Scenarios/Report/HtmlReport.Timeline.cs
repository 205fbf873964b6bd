using System.Text;

namespace ContainmentLab.Scenarios.Report;

public static partial class HtmlReport
{
    private const int SvgWidth = 1320;
    private const int LabelWidth = 110;
    private const int RightPad = 16;
    private const int PlotWidth = SvgWidth - LabelWidth - RightPad;
    private const int AxisHeight = 22;
    private const int LaneHeight = 52;

    /// <summary>Marks closer than this (in pixels) share one bin: one bar or symbol whose title counts them.</summary>
    private const double BinPixels = 4;

    private const double MarkRow = 10;
    private const double BarMaxHeight = 22;

    private const string HostLane = "host";
    private const string AgentLane = "agent";

    private static void AppendTimeline(StringBuilder html, FixtureResult r)
    {
        html.Append("<div class=\"legend\">");
        foreach (var category in Enum.GetValues<MarkCategory>())
        {
            html.Append("<span><svg width=\"14\" height=\"14\" viewBox=\"-7 -7 14 14\" aria-hidden=\"true\">");
            AppendSymbol(html, category, 0, 0, legend: true);
            html.Append("</svg>").Append(Escape(MarkCategories.Label(category))).Append("</span>");
        }

        html.Append("</div>\n");
        if (r.Timeline.Count == 0)
        {
            html.Append("<p class=\"meta\">No timeline was recorded.</p>\n");
            return;
        }

        var lanes = Lanes(r);
        var end = r.Timeline.Max(e => e.At);
        if (r.Duration > end)
        {
            end = r.Duration;
        }

        var span = end > TimeSpan.Zero ? end.TotalSeconds : 1;
        var height = AxisHeight + (lanes.Count * LaneHeight) + 4;
        html.Append("<svg class=\"timeline\" width=\"").Append(SvgWidth.ToString(s_inv)).Append("\" height=\"").Append(height.ToString(s_inv))
            .Append("\" viewBox=\"0 0 ").Append(SvgWidth.ToString(s_inv)).Append(' ').Append(height.ToString(s_inv))
            .Append("\" role=\"img\" aria-label=\"timeline of ").Append(Escape(r.Name)).Append("\">\n");
        AppendAxis(html, span, height);
        for (var i = 0; i < lanes.Count; i++)
        {
            var entries = r.Timeline.Where(e => string.Equals(e.Lane, lanes[i], StringComparison.Ordinal)).ToList();
            AppendLane(html, lanes[i], entries, AxisHeight + (i * LaneHeight), span, shaded: i % 2 == 1);
        }

        html.Append("</svg>\n");
    }

    /// <summary><c>host</c> first, then the sessions in their order, then any other lane the timeline names, then <c>agent</c>.</summary>
    private static List<string> Lanes(FixtureResult r)
    {
        var lanes = new List<string> { HostLane };
        foreach (var lane in r.Sessions.Concat(r.Timeline.Select(e => e.Lane)))
        {
            if (lane is not (HostLane or AgentLane) && !lanes.Contains(lane, StringComparer.Ordinal))
            {
                lanes.Add(lane);
            }
        }

        lanes.Add(AgentLane);
        return lanes;
    }

    private static void AppendAxis(StringBuilder html, double span, int height)
    {
        var step = NiceStep(span / 10);
        var decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        var useMs = span < 1;
        for (var k = 0; k * step <= span + (step * 1e-6); k++)
        {
            var t = k * step;
            var x = X(t, span);
            html.Append("<line x1=\"").Append(F(x)).Append("\" y1=\"").Append(F(AxisHeight - 4)).Append("\" x2=\"").Append(F(x))
                .Append("\" y2=\"").Append(F(height - 4)).Append("\" stroke=\"#e3e7eb\"/>");
            var label = useMs
                ? (t * 1000).ToString("0.###", s_inv) + " ms"
                : t.ToString("F" + decimals.ToString(s_inv), s_inv) + " s";
            html.Append("<text x=\"").Append(F(x)).Append("\" y=\"14\" text-anchor=\"middle\">").Append(label).Append("</text>\n");
        }
    }

    private static void AppendLane(StringBuilder html, string lane, List<TimelineEntry> entries, double top, double span, bool shaded)
    {
        html.Append("<g class=\"lane\">");
        html.Append("<rect x=\"0\" y=\"").Append(F(top)).Append("\" width=\"").Append(SvgWidth.ToString(s_inv)).Append("\" height=\"").Append(LaneHeight.ToString(s_inv))
            .Append("\" fill=\"").Append(shaded ? "#f6f8fa" : "#ffffff").Append("\" fill-opacity=\"0.9\"/>");
        var baseline = top + LaneHeight - 5;
        html.Append("<line x1=\"").Append(LabelWidth.ToString(s_inv)).Append("\" y1=\"").Append(F(baseline)).Append("\" x2=\"").Append((SvgWidth - RightPad).ToString(s_inv))
            .Append("\" y2=\"").Append(F(baseline)).Append("\" stroke=\"#c5ccd3\"/>");
        var shown = lane.Length > 15 ? lane[..14] + "…" : lane;
        html.Append("<text class=\"lane\" x=\"8\" y=\"").Append(F(top + (LaneHeight / 2.0) + 4)).Append("\"><title>").Append(Escape(lane)).Append("</title>")
            .Append(Escape(shown)).Append("</text>\n");

        // Interrupts get a guide line through the lane first, so everything else is drawn over it.
        foreach (var x in entries.Where(e => MarkCategories.Of(e.Kind) == MarkCategory.Interrupt).Select(e => Math.Round(X(e.At.TotalSeconds, span))).Distinct())
        {
            html.Append("<line x1=\"").Append(F(x)).Append("\" y1=\"").Append(F(top + 2)).Append("\" x2=\"").Append(F(x)).Append("\" y2=\"").Append(F(baseline))
                .Append("\" stroke=\"#d32f2f\" stroke-dasharray=\"3 2\" stroke-width=\"1\"/>");
        }

        // Dense categories first (histogram bars from the baseline), the point marks on top.
        // Other events (ToolCompleted, TurnEnded, …) go first, under the dispatch bars they usually sit next to.
        var byCategory = entries.GroupBy(e => MarkCategories.Of(e.Kind))
            .OrderBy(g => g.Key switch { MarkCategory.Other => 0, MarkCategory.Dispatch => 1, MarkCategory.Skip => 2, _ => 3 });
        foreach (var group in byCategory)
        {
            var bins = Bin(group.OrderBy(e => e.At), span);
            if (MarkCategories.IsDense(group.Key))
            {
                var max = bins.Max(b => b.Count);
                foreach (var bin in bins)
                {
                    AppendBar(html, group.Key, bin, span, baseline, max);
                }
            }
            else
            {
                foreach (var bin in bins)
                {
                    var x = X(bin[0].At.TotalSeconds, span);
                    html.Append("<g>").Append("<title>").Append(Escape(Title(bin))).Append("</title>");
                    AppendSymbol(html, group.Key, x, top + MarkRow, legend: false);
                    if (bin.Count > 1)
                    {
                        html.Append("<text x=\"").Append(F(x + 7)).Append("\" y=\"").Append(F(top + MarkRow + 4)).Append("\">×").Append(bin.Count.ToString(s_inv)).Append("</text>");
                    }

                    html.Append("</g>");
                }
            }
        }

        html.Append("</g>\n");
    }

    /// <summary>Groups time-ordered entries into runs that start within <see cref="BinPixels"/> of each other.</summary>
    private static List<List<TimelineEntry>> Bin(IEnumerable<TimelineEntry> ordered, double span)
    {
        var bins = new List<List<TimelineEntry>>();
        double binStart = double.NegativeInfinity;
        foreach (var e in ordered)
        {
            var x = X(e.At.TotalSeconds, span);
            if (x - binStart >= BinPixels)
            {
                bins.Add([]);
                binStart = x;
            }

            bins[^1].Add(e);
        }

        return bins;
    }

    private static void AppendBar(StringBuilder html, MarkCategory category, List<TimelineEntry> bin, double span, double baseline, int max)
    {
        var x0 = X(bin[0].At.TotalSeconds, span);
        var x1 = X(bin[^1].At.TotalSeconds, span);
        var width = Math.Max(2, x1 - x0 + 2);

        // Square-root scale: a bin of 1 stays visible next to a bin of 50.
        var h = Math.Max(4, BarMaxHeight * Math.Sqrt(bin.Count / (double)max));
        var (fill, opacity) = category switch
        {
            MarkCategory.Dispatch => ("#2b6cb0", "0.9"),
            MarkCategory.Skip => ("#5f6b76", "1"),
            _ => ("#b8c0c8", "0.8"),
        };

        // Skips are a band above the dispatch bars, so a bin that has both shows both; other events stay low.
        var bottom = category == MarkCategory.Skip ? baseline - BarMaxHeight - 1 : baseline;
        if (category == MarkCategory.Skip)
        {
            h = 7;
            width = Math.Max(width, 3);
        }
        else if (category == MarkCategory.Other)
        {
            h = Math.Min(h, 8);
        }

        html.Append("<rect x=\"").Append(F(x0 - 1)).Append("\" y=\"").Append(F(bottom - h)).Append("\" width=\"").Append(F(width)).Append("\" height=\"").Append(F(h))
            .Append("\" fill=\"").Append(fill).Append("\" fill-opacity=\"").Append(opacity).Append("\" data-kind=\"").Append(category.ToString()).Append("\"><title>")
            .Append(Escape(Title(bin))).Append("</title></rect>");
    }

    private static void AppendSymbol(StringBuilder html, MarkCategory category, double x, double y, bool legend)
    {
        var kind = legend ? string.Empty : " data-kind=\"" + category.ToString() + "\"";
        switch (category)
        {
            case MarkCategory.Prompt:
                html.Append("<path").Append(kind).Append(" d=\"M").Append(F(x - 4)).Append(' ').Append(F(y - 6)).Append(" L").Append(F(x + 6)).Append(' ').Append(F(y))
                    .Append(" L").Append(F(x - 4)).Append(' ').Append(F(y + 6)).Append(" Z\" fill=\"#1f5fbf\"/>");
                break;
            case MarkCategory.Interrupt:
                html.Append("<path").Append(kind).Append(" d=\"M").Append(F(x - 6)).Append(' ').Append(F(y - 5)).Append(" L").Append(F(x + 6)).Append(' ').Append(F(y - 5))
                    .Append(" L").Append(F(x)).Append(' ').Append(F(y + 6)).Append(" Z\" fill=\"#d32f2f\"/>");
                break;
            case MarkCategory.Ack:
                html.Append("<circle").Append(kind).Append(" cx=\"").Append(F(x)).Append("\" cy=\"").Append(F(y)).Append("\" r=\"5\" fill=\"#2f8a4a\" stroke=\"#fff\" stroke-width=\"1\"/>");
                break;
            case MarkCategory.WatchdogCancel:
                html.Append("<path").Append(kind).Append(" d=\"M").Append(F(x)).Append(' ').Append(F(y - 6)).Append(" L").Append(F(x + 6)).Append(' ').Append(F(y))
                    .Append(" L").Append(F(x)).Append(' ').Append(F(y + 6)).Append(" L").Append(F(x - 6)).Append(' ').Append(F(y)).Append(" Z\" fill=\"#ef8a00\"/>");
                break;
            case MarkCategory.Escalation:
                html.Append("<path").Append(kind).Append(" d=\"M").Append(F(x - 5)).Append(' ').Append(F(y - 5)).Append(" L").Append(F(x + 5)).Append(' ').Append(F(y + 5))
                    .Append(" M").Append(F(x + 5)).Append(' ').Append(F(y - 5)).Append(" L").Append(F(x - 5)).Append(' ').Append(F(y + 5))
                    .Append("\" stroke=\"#7b1fa2\" stroke-width=\"3\" stroke-linecap=\"round\" fill=\"none\"/>");
                break;
            case MarkCategory.AgentExit:
                html.Append("<rect").Append(kind).Append(" x=\"").Append(F(x - 5)).Append("\" y=\"").Append(F(y - 5)).Append("\" width=\"10\" height=\"10\" fill=\"#1d232a\"/>");
                break;
            case MarkCategory.Dispatch:
                html.Append("<rect").Append(kind).Append(" x=\"").Append(F(x - 2)).Append("\" y=\"").Append(F(y - 6)).Append("\" width=\"4\" height=\"12\" fill=\"#2b6cb0\"/>");
                break;
            case MarkCategory.Skip:
                html.Append("<rect").Append(kind).Append(" x=\"").Append(F(x - 2)).Append("\" y=\"").Append(F(y - 4)).Append("\" width=\"4\" height=\"8\" fill=\"#5f6b76\"/>");
                break;
            default:
                html.Append("<circle").Append(kind).Append(" cx=\"").Append(F(x)).Append("\" cy=\"").Append(F(y)).Append("\" r=\"3\" fill=\"#b8c0c8\"/>");
                break;
        }
    }

    /// <summary>The hover text of a bin: the entry itself, or the count, the time range and a few of its entries.</summary>
    private static string Title(List<TimelineEntry> bin)
    {
        if (bin.Count == 1)
        {
            var e = bin[0];
            return $"{FormatAt(e.At)} {e.Kind}" + (e.Detail.Length > 0 ? ": " + e.Detail : string.Empty);
        }

        var kinds = string.Join(", ", bin.GroupBy(e => e.Kind, StringComparer.Ordinal).Select(g => $"{g.Count().ToString("N0", s_inv)} {g.Key}"));
        var text = new StringBuilder($"{kinds} from {FormatAt(bin[0].At)} to {FormatAt(bin[^1].At)}");
        foreach (var e in bin.Take(3))
        {
            text.Append('\n').Append(FormatAt(e.At)).Append(' ').Append(e.Kind).Append(e.Detail.Length > 0 ? ": " + e.Detail : string.Empty);
        }

        if (bin.Count > 3)
        {
            text.Append("\n…");
        }

        return text.ToString();
    }

    private static string FormatAt(TimeSpan at) => at.TotalSeconds.ToString("0.000", s_inv) + " s";

    private static double X(double seconds, double span) => LabelWidth + (Math.Clamp(seconds / span, 0, 1) * PlotWidth);

    private static string F(double value) => value.ToString("0.#", s_inv);

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="rough"/>.</summary>
    private static double NiceStep(double rough)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        foreach (var m in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (m * magnitude >= rough - (rough * 1e-9))
            {
                return m * magnitude;
            }
        }

        return 10 * magnitude;
    }
}
