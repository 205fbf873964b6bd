using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// The ACP <c>terminal/*</c> methods over one shared <see cref="Terminals"/>. Each tool disposes it with the registry
/// (idempotent), so registering any of them is enough for every group to die with the bridge.
/// </summary>
public abstract class TerminalTool(Terminals terminals) : HostTool, IAsyncDisposable
{
    internal Terminals Terminals { get; } = terminals ?? throw new ArgumentNullException(nameof(terminals));

    /// <summary>The five tools over one set of terminals.</summary>
    public static IEnumerable<HostTool> All(Terminals terminals) =>
    [
        new CreateTerminalTool(terminals),
        new TerminalOutputTool(terminals),
        new WaitForTerminalExitTool(terminals),
        new KillTerminalTool(terminals),
        new ReleaseTerminalTool(terminals),
    ];

    public override void Validate(JsonElement arguments) => arguments.Deserialize(AcpJsonContext.Default.TerminalRequest);

    public override string Describe(JsonElement arguments) => $"{Name} {OptionalString(arguments, "terminalId")}";

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return Terminals.DisposeAsync();
    }

    private protected static TerminalRequest Request(ToolInvocation call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return call.Arguments.Deserialize(AcpJsonContext.Default.TerminalRequest)!;
    }

    /// <summary>An ACP-valid result with the dry-run note in <c>_meta</c> (as <see cref="WriteTextFileTool"/> does).</summary>
    private protected static JsonElement WithDryRunMeta(JsonElement result, string wouldDo)
    {
        var fields = result.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
        fields["_meta"] = JsonSerializer.SerializeToElement(
            new Dictionary<string, string> { ["containmentlab.dryRun"] = wouldDo }, AcpJsonContext.Default.DictionaryStringString);
        return JsonSerializer.SerializeToElement(fields, AcpJsonContext.Default.DictionaryStringJsonElement);
    }

    private protected static JsonElement Empty { get; } = JsonSerializer.SerializeToElement(new EmptyResponse(), AcpJsonContext.Default.EmptyResponse);
}

/// <summary><c>terminal/create</c>: destructive (it runs anything), answers <c>{terminalId}</c> at once while the command runs.</summary>
public sealed class CreateTerminalTool(Terminals terminals) : TerminalTool(terminals)
{
    public override string Name => AcpMethods.TerminalCreate;

    public override bool BeginsSideEffectItself => true; // Terminals.Create begins it, right before the process starts

    public override ToolClass Classify(JsonElement arguments) => ToolClass.Destructive;

    public override void Validate(JsonElement arguments)
    {
        var request = arguments.Deserialize(AcpJsonContext.Default.CreateTerminalRequest)!;
        if (request.Command.Length == 0 || request.Command.Contains('\0', StringComparison.Ordinal))
        {
            throw new JsonException("'command' is empty or contains a NUL byte");
        }

        if (request.OutputByteLimit is < 0)
        {
            throw new JsonException("'outputByteLimit' is negative");
        }

        if (request.Args?.Any(a => a.Contains('\0', StringComparison.Ordinal)) == true)
        {
            throw new JsonException("an 'args' entry contains a NUL byte");
        }

        foreach (var variable in request.Env ?? [])
        {
            if (variable.Name.Length == 0 || variable.Name.Contains('=', StringComparison.Ordinal) || variable.Name.Contains('\0', StringComparison.Ordinal) || variable.Value.Contains('\0', StringComparison.Ordinal))
            {
                throw new JsonException($"invalid environment variable name or value: '{variable.Name}'");
            }

            // The host's cookie is how the orphan sweep finds a terminal after the host died (G7): not the agent's to set or clear.
            if (variable.Name == Sweep.AgentCookie.EnvironmentVariable)
            {
                throw new JsonException($"'{variable.Name}' is the host's: a terminal may not set it");
            }
        }
    }

    public override string Describe(JsonElement arguments)
    {
        var request = arguments.Deserialize(AcpJsonContext.Default.CreateTerminalRequest)!;
        var args = request.Args is { Count: > 0 } a ? " " + string.Join(' ', a) : string.Empty;
        return $"run '{request.Command}{args}' in {request.Cwd ?? "the sandbox root"}";
    }

    public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var request = call.Arguments.Deserialize(AcpJsonContext.Default.CreateTerminalRequest)!;
        var terminal = Terminals.Create(call, request, cancellationToken);
        return ValueTask.FromResult(JsonSerializer.SerializeToElement(new CreateTerminalResponse(terminal.Id), AcpJsonContext.Default.CreateTerminalResponse));
    }

    /// <summary>A terminal id that names nothing: the agent's next terminal call on it fails, and nothing ran.</summary>
    public override JsonElement DryRunResult(string wouldDo) =>
        WithDryRunMeta(JsonSerializer.SerializeToElement(new CreateTerminalResponse("dry-run"), AcpJsonContext.Default.CreateTerminalResponse), wouldDo);
}

/// <summary><c>terminal/output</c>: the output so far (bounded, cut at the front), and the exit status once exited.</summary>
public sealed class TerminalOutputTool(Terminals terminals) : TerminalTool(terminals)
{
    public override string Name => AcpMethods.TerminalOutput;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

    public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        var terminal = Terminals.Get(call, Request(call).TerminalId);
        using var watching = terminal.WatchActivity(call.ReportActivity);
        return ValueTask.FromResult(JsonSerializer.SerializeToElement(terminal.Output(), AcpJsonContext.Default.TerminalOutputResponse));
    }

    public override JsonElement DryRunResult(string wouldDo) =>
        WithDryRunMeta(JsonSerializer.SerializeToElement(new TerminalOutputResponse(string.Empty, false), AcpJsonContext.Default.TerminalOutputResponse), wouldDo);
}

/// <summary>
/// <c>terminal/wait_for_exit</c>: <c>{exitCode, signal}</c> once the command exits. Output slides the watchdog's window;
/// when the wait is cancelled (interrupt, watchdog) the terminal's group is killed.
/// </summary>
public sealed class WaitForTerminalExitTool(Terminals terminals) : TerminalTool(terminals)
{
    public override string Name => AcpMethods.TerminalWaitForExit;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

    public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        var terminal = Terminals.Get(call, Request(call).TerminalId);
        var status = await terminal.WaitForExitAsync(call.ReportActivity, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.SerializeToElement(status, AcpJsonContext.Default.TerminalExitStatus);
    }

    public override JsonElement DryRunResult(string wouldDo) => WithDryRunMeta(Empty, wouldDo);
}

/// <summary><c>terminal/kill</c>: SIGKILL to the group; the terminal stays readable (output, wait_for_exit) until released.</summary>
public sealed class KillTerminalTool(Terminals terminals) : TerminalTool(terminals)
{
    public override string Name => AcpMethods.TerminalKill;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.SideEffect;

    public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        Terminals.Get(call, Request(call).TerminalId).Kill();
        return ValueTask.FromResult(Empty);
    }

    public override JsonElement DryRunResult(string wouldDo) => WithDryRunMeta(Empty, wouldDo);
}

/// <summary><c>terminal/release</c>: kills the group if it still runs and frees the terminal (its id is gone).</summary>
public sealed class ReleaseTerminalTool(Terminals terminals) : TerminalTool(terminals)
{
    public override string Name => AcpMethods.TerminalRelease;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.SideEffect;

    public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        await Terminals.ReleaseAsync(call, Request(call).TerminalId).ConfigureAwait(false);
        return Empty;
    }

    public override JsonElement DryRunResult(string wouldDo) => WithDryRunMeta(Empty, wouldDo);
}
