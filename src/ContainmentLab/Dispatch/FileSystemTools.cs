using System.Globalization;
using System.Text;
using ContainmentLab.IO;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// <c>fs/read_text_file</c>: read-only, confined to the sandbox. Only a regular file is opened (a FIFO would block the
/// open, a device has side effects), and only up to <see cref="FileSystemToolOptions.MaxReadBytes"/>; an answer longer
/// than <see cref="FileSystemToolOptions.MaxAnswerBytes"/> is refused, not cut.
/// </summary>
public sealed class ReadTextFileTool(Sandbox sandbox, FileSystemToolOptions? options = null) : HostTool
{
    private readonly FileSystemToolOptions _options = options ?? new FileSystemToolOptions();

    public override string Name => AcpMethods.ReadTextFile;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

    public override string Describe(JsonElement arguments) => $"read {OptionalString(arguments, "path")}";

    public override void Validate(JsonElement arguments) => arguments.Deserialize(AcpJsonContext.Default.ReadTextFileRequest);

    public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var request = call.Arguments.Deserialize(AcpJsonContext.Default.ReadTextFileRequest)!;
        var path = sandbox.Resolve(request.Path);
        cancellationToken.ThrowIfCancellationRequested();
        byte[] bytes;
        try
        {
            // Bounded and regular, so reading it whole is quick: no await needed (or possible: the open is the risk).
            bytes = RegularFile.ReadAllBytes(path, _options.MaxReadBytes);
        }
        catch (FileNotFoundException)
        {
            throw new ToolFailedException($"no such file: '{request.Path}'");
        }
        catch (FileRefusedException ex)
        {
            throw new ToolFailedException($"'{request.Path}' not read: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ToolFailedException($"'{request.Path}' could not be read: {ex.Message}", ex);
        }

        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var text = reader.ReadToEnd();
        if (request.Line is not null || request.Limit is not null)
        {
            var lines = text.Split('\n').Skip(Math.Max(0, (request.Line ?? 1) - 1));
            if (request.Limit is { } limit)
            {
                lines = lines.Take(Math.Max(0, limit));
            }

            text = string.Join('\n', lines);
        }

        var answer = JsonSerializer.SerializeToElement(new ReadTextFileResponse(text), AcpJsonContext.Default.ReadTextFileResponse);
        var encoded = Encoding.UTF8.GetByteCount(answer.GetRawText());
        if (encoded > _options.MaxAnswerBytes)
        {
            throw new ToolFailedException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{request.Path}' not read: its text is {encoded} bytes as JSON, over the answer limit of {_options.MaxAnswerBytes} bytes (one wire line); ask for fewer lines with 'line' and 'limit'"));
        }

        return ValueTask.FromResult(answer);
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
