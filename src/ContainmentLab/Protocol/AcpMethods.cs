namespace ContainmentLab.Protocol;

/// <summary>The ACP v1 method names ContainmentLab speaks (reference/acp.md).</summary>
public static class AcpMethods
{
    public const int ProtocolVersion = 1;

    // Client (bridge) → agent.
    public const string Initialize = "initialize";
    public const string SessionNew = "session/new";
    public const string SessionPrompt = "session/prompt";
    public const string SessionCancel = "session/cancel";

    // Agent → client.
    public const string SessionUpdate = "session/update";
    public const string RequestPermission = "session/request_permission";
    public const string ReadTextFile = "fs/read_text_file";
    public const string WriteTextFile = "fs/write_text_file";
    public const string TerminalCreate = "terminal/create";
    public const string TerminalOutput = "terminal/output";
    public const string TerminalWaitForExit = "terminal/wait_for_exit";
    public const string TerminalKill = "terminal/kill";
    public const string TerminalRelease = "terminal/release";

    /// <summary>Our extension for host tools ACP has no method for: <c>{sessionId, toolCallId, name, arguments}</c>.</summary>
    public const string ContainmentTool = "_containmentlab/tool";

    /// <summary>Either side withdraws one of its own requests.</summary>
    public const string CancelRequest = "$/cancel_request";
}

/// <summary>ACP stop reasons of a prompt turn.</summary>
public static class StopReasons
{
    public const string EndTurn = "end_turn";
    public const string MaxTokens = "max_tokens";
    public const string MaxTurnRequests = "max_turn_requests";
    public const string Refusal = "refusal";
    public const string Cancelled = "cancelled";
}

/// <summary>Discriminators of <c>session/update</c>.</summary>
public static class SessionUpdateKinds
{
    public const string AgentMessageChunk = "agent_message_chunk";
    public const string AgentThoughtChunk = "agent_thought_chunk";
    public const string ToolCall = "tool_call";
    public const string ToolCallUpdate = "tool_call_update";
    public const string Plan = "plan";
}
