using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>A tool the host runs for the agent. Implementations honour the token: it is cancelled on interrupt.</summary>
public abstract class HostTool
{
    /// <summary>The ACP method (<c>fs/read_text_file</c>) or the <c>_containmentlab/tool</c> name (<c>desktop.press</c>).</summary>
    public abstract string Name { get; }

    public abstract ToolClass Classify(JsonElement arguments);

    /// <summary>
    /// Whether the tool calls <see cref="ToolInvocation.ReportActivity"/>. A tool that never does (a quick one) is spared
    /// the delegate and the copy of its invocation that wire activity to the watchdog, per call; its deadline is the same.
    /// </summary>
    public virtual bool ReportsActivity => true;

    /// <summary>
    /// True when the tool calls <see cref="ToolInvocation.BeginSideEffect"/> itself, once, right before its effect (after
    /// its own checks, so a call refused by them records no <c>began</c>). False (the default): the dispatcher calls it
    /// right before <see cref="InvokeAsync"/>, which is right for any tool whose effect starts before its first await.
    /// </summary>
    public virtual bool BeginsSideEffectItself => false;

    /// <summary>What the call would do, in words (for the confirm dialog and dry-run answers).</summary>
    public virtual string Describe(JsonElement arguments) =>
        arguments.ValueKind == JsonValueKind.Undefined ? Name : $"{Name} {arguments.GetRawText()}";

    /// <summary>Checks the arguments' shape before dispatch; throws <see cref="JsonException"/> saying what is wrong.</summary>
    public virtual void Validate(JsonElement arguments)
    {
    }

    public abstract ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken);

    /// <summary>The result a dry-run answers with; ACP methods override it to stay schema-valid.</summary>
    public virtual JsonElement DryRunResult(string wouldDo) =>
        JsonSerializer.SerializeToElement(new ContainmentToolResponse(null, true, wouldDo), AcpJsonContext.Default.ContainmentToolResponse);

    protected static string RequiredString(JsonElement arguments, string name)
    {
        if (arguments.ValueKind != JsonValueKind.Object || !arguments.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            throw new ToolFailedException($"argument '{name}' (a string) is required");
        }

        return value.GetString()!;
    }

    protected static string? OptionalString(JsonElement arguments, string name) =>
        arguments.ValueKind == JsonValueKind.Object && arguments.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
