namespace ContainmentLab.FakeAgent;

/// <summary>
/// What the fake agent does: one <see cref="PromptScript"/> per prompt of a session (the last one repeats) and how it
/// reacts to <c>session/cancel</c>. Written in YAML; see fixtures/README.md, "Fake-agent scripts".
/// </summary>
public sealed record FakeAgentScript(string? Name, CancelBehaviour OnCancel, IReadOnlyList<PromptScript> Prompts)
{
    /// <summary><c>initialize: {error: {code, message}}</c> — answer <c>initialize</c> with this error instead of a result.</summary>
    public ScriptedError? InitializeError { get; init; }

    /// <summary><c>session_new: {error: {code, message}}</c> — answer every <c>session/new</c> with this error.</summary>
    public ScriptedError? SessionNewError { get; init; }

    /// <summary><c>exit_during_startup:</c> — die before answering <c>initialize</c>.</summary>
    public StartupExit? ExitDuringStartup { get; init; }

    /// <summary>
    /// <c>session_prompts: {SESSION_ID: [prompts]}</c> — the prompts of one session, instead of <see cref="Prompts"/>
    /// (so that one session misbehaves while another behaves).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<PromptScript>> SessionPrompts { get; init; } = new Dictionary<string, IReadOnlyList<PromptScript>>();

    /// <summary>Reads and validates a script file.</summary>
    /// <exception cref="ScriptException">The script is not valid; the message says where and why.</exception>
    public static FakeAgentScript Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ScriptException(path, 0, 0, "cannot read the script: " + ex.Message, ex);
        }

        return Parse(text, path);
    }

    /// <summary>Parses and validates script text; <paramref name="sourceName"/> names it in error messages.</summary>
    /// <exception cref="ScriptException">The script is not valid; the message says where and why.</exception>
    public static FakeAgentScript Parse(string yamlText, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentNullException.ThrowIfNull(sourceName);
        return new FakeAgentScriptParser(sourceName).Parse(yamlText);
    }

    /// <summary>The steps of the session's prompt number <paramref name="promptIndex"/> (0-based); the last entry repeats.</summary>
    public PromptScript PromptFor(int promptIndex) => PromptFor(Prompts, promptIndex);

    /// <summary>Like <see cref="PromptFor(int)"/>, from the session's own <see cref="SessionPrompts"/> when it has any.</summary>
    public PromptScript PromptFor(string sessionId, int promptIndex) =>
        PromptFor(SessionPrompts.TryGetValue(sessionId, out var own) ? own : Prompts, promptIndex);

    private static PromptScript PromptFor(IReadOnlyList<PromptScript> prompts, int promptIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(promptIndex);
        if (prompts.Count == 0)
        {
            return s_empty;
        }

        return prompts[Math.Min(promptIndex, prompts.Count - 1)];
    }

    private static readonly PromptScript s_empty = new([]);
}
