using ContainmentLab.Events;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainmentLab.Scenarios;

/// <summary>
/// Reads a fixture file into a <see cref="Fixture"/>, rejecting unknown keys, wrong types, bad values and missing files
/// with <see cref="FixtureException"/> (<c>file:line:column: what is wrong</c>). It walks YamlDotNet's representation
/// model, not a deserializer, so that every complaint can point at the node it is about.
/// </summary>
public static class FixtureLoader
{
    /// <summary>The top-level keys a fixture may have (fixtures/schema.json lists the same; a test keeps them in sync).</summary>
    public static IReadOnlyList<string> TopLevelKeys { get; } = ["name", "description", "seed", "agent", "host", "sessions", "timeline", "expect"];

    /// <summary>The event names expectations and conditions may use: every concrete <see cref="ContainmentEvent"/> record.</summary>
    public static IReadOnlySet<string> EventNames { get; } = typeof(ContainmentEvent).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(ContainmentEvent)) && !t.IsAbstract)
        .Select(t => t.Name)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Reads and validates a fixture file.</summary>
    /// <exception cref="FixtureException">The fixture cannot be run as written; the message says where and why.</exception>
    public static Fixture Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        string text;
        try
        {
            text = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FixtureException(path, 0, 0, "cannot read the fixture: " + ex.Message, ex);
        }

        return Parse(text, path);
    }

    /// <summary>Parses fixture text; <paramref name="path"/> names it in messages and is the base of its relative paths.</summary>
    /// <exception cref="FixtureException">The fixture cannot be run as written.</exception>
    public static Fixture Parse(string yamlText, string path)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new FixtureParser(path, yamlText).Parse();
    }

    /// <summary><c>AgentExited</c> → <c>agent_exited</c>.</summary>
    public static string SnakeCase(string pascal)
    {
        ArgumentNullException.ThrowIfNull(pascal);
        var builder = new System.Text.StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    internal static FixtureException Error(string file, Mark mark, string problem) =>
        new(file, checked((int)mark.Line), checked((int)mark.Column), problem);

    internal static YamlStream LoadYaml(string file, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw Error(file, ex.Start, "not valid YAML: " + ex.Message);
        }
        catch (ArgumentException ex)
        {
            // YamlDotNet reports a duplicate mapping key as an ArgumentException without a position.
            throw new FixtureException(file, 0, 0, "not valid YAML: " + ex.Message, ex);
        }

        return stream;
    }
}
