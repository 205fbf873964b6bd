using System.Globalization;
using System.Xml.Linq;
using ContainmentLab.Scenarios;

namespace ContainmentLab.Cli.Suite;

/// <summary>The suite's results as JUnit XML, for CI systems: one test case per fixture.</summary>
public static class JUnitReport
{
    public static XDocument Create(IReadOnlyList<FixtureResult> results, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(results);
        var suite = new XElement(
            "testsuite",
            new XAttribute("name", "containmentlab fixtures"),
            new XAttribute("tests", results.Count),
            new XAttribute("failures", results.Count(r => r.Verdict == Verdict.Failed)),
            new XAttribute("errors", results.Count(r => r.Verdict == Verdict.Invalid)),
            new XAttribute("skipped", 0),
            new XAttribute("time", Seconds(duration)));
        foreach (var result in results)
        {
            var testCase = new XElement(
                "testcase",
                new XAttribute("classname", "fixtures." + Path.GetFileNameWithoutExtension(result.Path)),
                new XAttribute("name", result.Name),
                new XAttribute("file", result.Path),
                new XAttribute("time", Seconds(result.Duration)));
            switch (result.Verdict)
            {
                case Verdict.Failed:
                    var first = result.Failures.FirstOrDefault();
                    testCase.Add(new XElement(
                        "failure",
                        new XAttribute("message", first?.Expectation ?? result.Guarantees.FirstOrDefault(g => !g.Held)?.Id ?? "failed"),
                        new XAttribute("type", "ExpectationFailed"),
                        Describe(result)));
                    break;
                case Verdict.Invalid:
                    testCase.Add(new XElement("error", new XAttribute("message", result.Error ?? "invalid fixture"), new XAttribute("type", "InvalidFixture")));
                    break;
            }

            testCase.Add(new XElement("system-out", string.Join('\n', result.Guarantees.Select(g => $"{g.Id}: {(g.Held ? "held" : "FAILED " + g.Violation)}"))));
            suite.Add(testCase);
        }

        return new XDocument(new XDeclaration("1.0", "utf-8", null), new XElement("testsuites", suite));
    }

    public static string Describe(FixtureResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var lines = new List<string>();
        foreach (var guarantee in result.Guarantees.Where(g => !g.Held))
        {
            lines.Add($"{guarantee.Id} violated: {guarantee.Violation}");
        }

        foreach (var failure in result.Failures)
        {
            var where = failure.Location is null ? string.Empty : $" ({failure.Location})";
            var session = failure.SessionId is null ? string.Empty : $" in session {failure.SessionId}";
            lines.Add($"expectation failed{where}: {failure.Expectation}{session}: {failure.Detail}");
            if (failure.FirstOffendingRecord is { } record)
            {
                lines.Add($"  first offending record: {record}");
            }
        }

        if (result.Error is { } error)
        {
            lines.Add(error);
        }

        return string.Join('\n', lines);
    }

    private static string Seconds(TimeSpan duration) => duration.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
}
