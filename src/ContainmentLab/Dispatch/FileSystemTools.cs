using System.Text;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary><c>fs/read_text_file</c>: read-only, confined to the sandbox.</summary>
public sealed class ReadTextFileTool(Sandbox sandbox) : HostTool
{
    public override string Name => AcpMethods.ReadTextFile;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

    public override string Describe(JsonElement arguments) => $"read {OptionalString(arguments, "path")}";

    public override void Validate(JsonElement arguments) => arguments.Deserialize(AcpJsonContext.Default.ReadTextFileRequest);

    public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var request = call.Arguments.Deserialize(AcpJsonContext.Default.ReadTextFileRequest)!;
        var path = sandbox.Resolve(request.Path);
        if (!File.Exists(path))
        {
            throw new ToolFailedException($"no such file: '{request.Path}'");
        }

        var text = await File.ReadAllTextAsync(path, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
        if (request.Line is not null || request.Limit is not null)
        {
            var lines = text.Split('\n').Skip(Math.Max(0, (request.Line ?? 1) - 1));
            if (request.Limit is { } limit)
            {
                lines = lines.Take(Math.Max(0, limit));
            }

            text = string.Join('\n', lines);
        }

        return JsonSerializer.SerializeToElement(new ReadTextFileResponse(text), AcpJsonContext.Default.ReadTextFileResponse);
    }
}

/// <summary><c>fs/write_text_file</c>: destructive (it overwrites), confined to the sandbox.</summary>
public sealed class WriteTextFileTool(Sandbox sandbox) : HostTool
{
    public override string Name => AcpMethods.WriteTextFile;

    public override bool BeginsSideEffectItself => true; // after the sandbox check, before the first directory or byte

    public override ToolClass Classify(JsonElement arguments) => ToolClass.Destructive;

    public override void Validate(JsonElement arguments) => arguments.Deserialize(AcpJsonContext.Default.WriteTextFileRequest);

    public override string Describe(JsonElement arguments)
    {
        var content = OptionalString(arguments, "content") ?? string.Empty;
        return $"write {Encoding.UTF8.GetByteCount(content)} bytes to {OptionalString(arguments, "path")}";
    }

    public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var request = call.Arguments.Deserialize(AcpJsonContext.Default.WriteTextFileRequest)!;
        var path = sandbox.Resolve(request.Path);
        call.BeginSideEffect();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, request.Content, new UTF8Encoding(false), cancellationToken).ConfigureAwait(false);
        return s_empty;
    }

    /// <summary>ACP's write result is <c>{}</c>; the dry-run note rides in <c>_meta</c> so the answer stays schema-valid.</summary>
    public override JsonElement DryRunResult(string wouldDo)
    {
        var meta = new Dictionary<string, JsonElement>
        {
            ["_meta"] = JsonSerializer.SerializeToElement(
                new Dictionary<string, string> { ["containmentlab.dryRun"] = wouldDo }, AcpJsonContext.Default.DictionaryStringString),
        };
        return JsonSerializer.SerializeToElement(meta, AcpJsonContext.Default.DictionaryStringJsonElement);
    }

    private static readonly JsonElement s_empty = JsonSerializer.SerializeToElement(new EmptyResponse(), AcpJsonContext.Default.EmptyResponse);
}
