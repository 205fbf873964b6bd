using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Bogus;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// The tool calls of a storm, generated from its seed with Bogus: the same seed, tools and cwd give the same sequence
/// of (tool, arguments), whatever order the responses come back in, because they are drawn one by one in send order.
/// </summary>
internal sealed class StormArguments
{
    public const string PressTool = "desktop.press";
    public const string SetValueTool = "desktop.set_value";
    public const string KeyTool = "desktop.key";
    public const string HttpTool = "http.request";

    private static readonly string[] s_targets = ["OK", "Cancel", "Save", "Open", "Close", "Apply", "Next", "Back", "Search", "Delete", "Send", "Settings"];
    private static readonly string[] s_keys = ["Enter", "Escape", "Tab", "Ctrl+S", "Ctrl+C", "Ctrl+V", "Cmd+Q", "Alt+F4", "Down", "Up", "Space"];

    private readonly StormStep _storm;
    private readonly string _cwd;
    private readonly Faker _faker;
    private readonly double _totalWeight;

    public StormArguments(StormStep storm, string cwd)
    {
        _storm = storm;
        _cwd = cwd;
        _faker = new Faker { Random = new Randomizer(storm.Seed) };
        _totalWeight = storm.Tools.Sum(t => t.Weight);
    }

    /// <summary>The tool and arguments of call number <paramref name="index"/>; call in index order.</summary>
    public (string Tool, JsonElement Arguments) Next(int index)
    {
        var tool = PickTool();
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            switch (tool)
            {
                case PressTool:
                    w.WriteString("target", _faker.PickRandom(s_targets));
                    break;
                case SetValueTool:
                    w.WriteString("target", _faker.PickRandom(s_targets));
                    w.WriteString("value", _faker.Lorem.Word());
                    break;
                case KeyTool:
                    w.WriteString("keys", _faker.PickRandom(s_keys));
                    break;
                case HttpTool:
                    w.WriteString("method", "GET");
                    w.WriteString("url", WithQuery(_storm.HttpUrl!, index));
                    break;
                case "fs/write_text_file":
                    w.WriteString("path", FilePath(index));
                    w.WriteString("content", _faker.Lorem.Sentence());
                    break;
                case "fs/read_text_file":
                    w.WriteString("path", FilePath(index));
                    break;
                default:
                    w.WriteNumber("n", index);
                    break;
            }

            w.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return (tool, document.RootElement.Clone());
    }

    private string PickTool()
    {
        if (_storm.Tools.Count == 1)
        {
            return _storm.Tools[0].Name;
        }

        var roll = _faker.Random.Double() * _totalWeight;
        foreach (var tool in _storm.Tools)
        {
            roll -= tool.Weight;
            if (roll < 0)
            {
                return tool.Name;
            }
        }

        return _storm.Tools[^1].Name;
    }

    private string FilePath(int index) =>
        Path.Combine(_cwd, "storm", _faker.Lorem.Word() + "-" + index.ToString(CultureInfo.InvariantCulture) + ".txt");

    private static string WithQuery(Uri url, int index)
    {
        var text = url.ToString();
        var separator = text.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        return text + separator + "n=" + index.ToString(CultureInfo.InvariantCulture);
    }
}
