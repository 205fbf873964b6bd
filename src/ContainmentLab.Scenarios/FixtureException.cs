namespace ContainmentLab.Scenarios;

/// <summary>A fixture that cannot be run as written: the message is <c>file:line:column: what is wrong</c>.</summary>
public sealed class FixtureException(string file, int line, int column, string problem, Exception? inner = null)
    : Exception($"{file}:{line}:{column}: {problem}", inner)
{
    public string File { get; } = file;

    public int Line { get; } = line;

    public int Column { get; } = column;

    public string Problem { get; } = problem;
}
