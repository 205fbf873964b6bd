using ContainmentLab.Dispatch;
using ContainmentLab.Protocol;

namespace ContainmentLab.Bridge;

/// <summary>
/// The bridge's view of one ACP session: its dispatch state and its current turn. It has two names: <see cref="Id"/>,
/// the handle the host uses (returned by NewSessionAsync, in every event and audit record), unique for the bridge's
/// lifetime; and <see cref="WireId"/>, the agent's own id, which only the wire uses. They are the same unless a restarted
/// agent hands out an id an earlier agent used (each agent numbers its sessions from the start): then the handle is
/// <c>sess-1#2</c>, and the dead agent's <c>sess-1</c> stays the dead agent's.
/// </summary>
internal sealed class Session : IDisposable
{
    public Session(string id, string wireId, AcpBridge.Agent agent)
    {
        Id = id;
        WireId = wireId;
        Agent = agent;
        Dispatch = new DispatchSession(id) { RequiresTurn = true };

        // Serialized once, so Interrupt only enqueues a ready line.
        CancelLine = MessageWriter.Notification(AcpMethods.SessionCancel, new CancelNotification(wireId), AcpJsonContext.Default.CancelNotification);
    }

    /// <summary>The bridge's handle: unique for the bridge's lifetime.</summary>
    public string Id { get; }

    /// <summary>The agent's id for the session: what the wire says.</summary>
    public string WireId { get; }

    /// <summary>The agent incarnation the session lives in (it ends with it).</summary>
    public AcpBridge.Agent Agent { get; }

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
