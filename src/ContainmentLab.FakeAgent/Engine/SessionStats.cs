namespace ContainmentLab.FakeAgent;

/// <summary>
/// What the agent has seen of one session's tool requests (<c>_containmentlab/tool</c> and ACP methods from tool and
/// storm steps; permission requests are not tool requests). Responses that arrive after an honoured cancel still count.
/// </summary>
/// <param name="ToolRequestsSent">Tool requests written to the wire.</param>
/// <param name="SuccessResponses">Answered with a result.</param>
/// <param name="ErrorResponses">Answered with a JSON-RPC error (the host refused or the tool failed).</param>
/// <param name="MaxOutstanding">The most tool requests sent and not yet answered at any one time.</param>
public sealed record SessionStats(int ToolRequestsSent, int SuccessResponses, int ErrorResponses, int MaxOutstanding)
{
    /// <summary>Sent and not yet answered.</summary>
    public int Outstanding => ToolRequestsSent - SuccessResponses - ErrorResponses;
}
