using System.Collections.Concurrent;
using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>The options <see cref="InProcessBridge"/> builds, with a test's own tap, policies, dialog, clock and audit file.</summary>
internal static class LabOptions
{
    public static BridgeOptions With(
        BridgeOptions o,
        IWireTap tap,
        PolicySet policies,
        Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? confirm = null,
        string? auditPath = null,
        TimeProvider? timeProvider = null) => new()
    {
        TimeProvider = timeProvider ?? o.TimeProvider,
        SandboxRoot = o.SandboxRoot,
        HttpClient = o.HttpClient,
        TransportFactory = o.TransportFactory,
        WireTap = tap,
        Policies = policies,
        ConfirmAsync = confirm,
        AuditPath = auditPath,
    };
}

/// <summary>Every line both ways, in the order the bridge's reader read and its writer wrote them.</summary>
internal sealed class LineTap : IWireTap
{
    private readonly ConcurrentQueue<string> _sent = new();
    private readonly ConcurrentQueue<string> _received = new();

    public List<string> Sent() => [.. _sent];

    public List<string> Received() => [.. _received];

    public void Received(long lineNumber, ReadOnlySpan<byte> line) => _received.Enqueue(Encoding.UTF8.GetString(line));

    public void Sent(ReadOnlySpan<byte> line) => _sent.Enqueue(Encoding.UTF8.GetString(line));

    /// <summary>The bridge's answer to the agent's request for <paramref name="method"/> (the first such request), or null.</summary>
    public ContainmentLab.Protocol.IncomingMessage? AnswerTo(string method)
    {
        var parser = new ContainmentLab.Protocol.MessageParser();
        var request = Received().Select(l => parser.Parse(Encoding.UTF8.GetBytes(l), 0).Message)
            .FirstOrDefault(m => m is { Kind: ContainmentLab.Protocol.MessageKind.Request } && m.Method == method);
        if (request?.Id is not { } id)
        {
            return null;
        }

        return Sent().Select(l => parser.Parse(Encoding.UTF8.GetBytes(l.TrimEnd('\n')), 0).Message)
            .FirstOrDefault(m => m is { Kind: ContainmentLab.Protocol.MessageKind.Response } && m.Id == id);
    }
}
