using System.Text.Json;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>How the test client answers a request from the agent.</summary>
internal abstract record AgentReply
{
    public static AgentReply Hold { get; } = new HoldReply();

    public static AgentReply Success(string json) => new SuccessReply(JsonDocument.Parse(json).RootElement.Clone());

    public static AgentReply Error(int code, string message = "refused") => new ErrorReply(code, message);

    public sealed record SuccessReply(JsonElement Result) : AgentReply;

    public sealed record ErrorReply(int Code, string Message) : AgentReply;

    /// <summary>Do not answer now: the request waits in <see cref="AcpTestClient.Held"/> until the test answers it.</summary>
    public sealed record HoldReply : AgentReply;
}
