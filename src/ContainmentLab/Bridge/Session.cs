using ContainmentLab.Dispatch;
using ContainmentLab.Protocol;

namespace ContainmentLab.Bridge;

/// <summary>The bridge's view of one ACP session: its dispatch state and its current turn.</summary>
internal sealed class Session : IDisposable
{
    public Session(string id)
    {
        Id = id;
        Dispatch = new DispatchSession(id) { RequiresTurn = true };

        // Serialized once, so Interrupt only enqueues a ready line.
        CancelLine = MessageWriter.Notification(AcpMethods.SessionCancel, new CancelNotification(id), AcpJsonContext.Default.CancelNotification);
    }

    public string Id { get; }

    /// <summary>Guards <see cref="Turn"/>, <see cref="Interrupted"/> and the order of prompt and cancel lines.</summary>
    public Lock Lock { get; } = new();

    public DispatchSession Dispatch { get; }

    public byte[] CancelLine { get; }

    public Turn? Turn { get; set; }

    public int TurnCount { get; set; }

    public bool Interrupted { get; set; }

    /// <summary>The agent's own tool calls of the running turn (from <c>session/update</c>), each watched. Guarded by <see cref="Lock"/>.</summary>
    public Dictionary<string, Dispatch.IToolWatchHandle> AgentTools { get; } = new(StringComparer.Ordinal);

    public void Dispose() => Dispatch.Dispose();
}
