namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    /// <summary>Before the agent starts: sweep orphans of dead hosts, and give the agent this bridge's cookie.</summary>
    private AgentCommand PrepareAgentCommand(AgentCommand command) => command;

    /// <summary>The agent process is running: record it in this bridge's lease.</summary>
    private void OnAgentProcessStarted(IAgentTransport transport)
    {
        _ = transport;
    }

    /// <summary>The bridge is stopping for good: its lease goes.</summary>
    private void ReleaseLease()
    {
    }
}
