namespace ContainmentLab.FakeAgent;

/// <summary>A fake-agent script that cannot be used, with the place of the problem: <c>source:line:column: what is wrong</c>.</summary>
public sealed class ScriptException : Exception
{
    public ScriptException()
        : this("script", 0, 0, "invalid script")
    {
    }

    public ScriptException(string message)
        : base(message)
    {
        ScriptSource = string.Empty;
        Problem = message;
    }

    public ScriptException(string message, Exception innerException)
        : base(message, innerException)
    {
        ScriptSource = string.Empty;
        Problem = message;
    }

    public ScriptException(string scriptSource, long line, long column, string problem, Exception? innerException = null)
        : base($"{scriptSource}:{line}:{column}: {problem}", innerException)
    {
        ScriptSource = scriptSource;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>The file name (or other name) the script was read from.</summary>
    public string ScriptSource { get; }

    /// <summary>1-based line of the problem.</summary>
    public long Line { get; }

    /// <summary>1-based column of the problem.</summary>
    public long Column { get; }

    /// <summary>What is wrong, without the place.</summary>
    public string Problem { get; }
}
