using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// Simulated desktop actions (<c>desktop.press {target}</c>, <c>desktop.set_value {target, value}</c>,
/// <c>desktop.key {keys}</c>): side effects recorded by the <see cref="VirtualDesktop"/>.
/// </summary>
public sealed class DesktopTool : HostTool
{
    public const string Press = "desktop.press";
    public const string SetValue = "desktop.set_value";
    public const string Key = "desktop.key";

    private readonly VirtualDesktop _desktop;
    private readonly string _name;

    public DesktopTool(VirtualDesktop desktop, string name)
    {
        ArgumentNullException.ThrowIfNull(desktop);
        if (name is not (Press or SetValue or Key))
        {
            throw new ArgumentException($"'{name}' is not a desktop tool", nameof(name));
        }

        _desktop = desktop;
        _name = name;
    }

    public override string Name => _name;

    public override bool ReportsActivity => false;

    public override bool BeginsSideEffectItself => true;

    public override ToolClass Classify(JsonElement arguments) => ToolClass.SideEffect;

    public override string Describe(JsonElement arguments) => _name switch
    {
        Press => $"press '{OptionalString(arguments, "target")}'",
        SetValue => $"set '{OptionalString(arguments, "target")}' to '{OptionalString(arguments, "value")}'",
        _ => $"type keys '{OptionalString(arguments, "keys")}'",
    };

    public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        cancellationToken.ThrowIfCancellationRequested();
        var (verb, target, value) = _name switch
        {
            Press => ("press", RequiredString(call.Arguments, "target"), null),
            SetValue => ("set_value", RequiredString(call.Arguments, "target"), RequiredString(call.Arguments, "value")),
            _ => ("key", RequiredString(call.Arguments, "keys"), (string?)null),
        };

        // The effect is the desktop action itself: checked against the gate now, with nothing between the check and it.
        call.BeginSideEffect();
        var action = _desktop.Record(call.SessionId, call.ToolCallId, verb, target, value);

        // The ContainmentToolResponse shape {"output":{"done","target"}}, written once: no dictionary, no intermediate element.
        return ValueTask.FromResult(JsonElementWriter.Build(action, static (w, a) =>
        {
            w.WriteStartObject();
            w.WriteStartObject("output"u8);
            w.WriteString("done"u8, a.Action);
            w.WriteString("target"u8, a.Target);
            w.WriteEndObject();
            w.WriteBoolean("dryRun"u8, false);
            w.WriteEndObject();
        }));
    }
}
