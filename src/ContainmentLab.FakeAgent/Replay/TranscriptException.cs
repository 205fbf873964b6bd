namespace ContainmentLab.FakeAgent;

/// <summary>A transcript that cannot be replayed, with the place of the problem: <c>source:line: what is wrong</c>.</summary>
public sealed class TranscriptException : Exception
{
    public TranscriptException()
        : this("transcript", 0, "invalid transcript")
    {
    }

    public TranscriptException(string message)
        : base(message)
    {
        TranscriptSource = string.Empty;
        Problem = message;
    }

    public TranscriptException(string message, Exception innerException)
        : base(message, innerException)
    {
        TranscriptSource = string.Empty;
        Problem = message;
    }

    public TranscriptException(string transcriptSource, long line, string problem, Exception? innerException = null)
        : base($"{transcriptSource}:{line}: {problem}", innerException)
    {
        TranscriptSource = transcriptSource;
        Line = line;
        Problem = problem;
    }

    /// <summary>The file name (or other name) the transcript was read from.</summary>
    public string TranscriptSource { get; }

    /// <summary>1-based line of the problem; 0 when the file could not be read at all.</summary>
    public long Line { get; }

    /// <summary>What is wrong, without the place.</summary>
    public string Problem { get; }
}
