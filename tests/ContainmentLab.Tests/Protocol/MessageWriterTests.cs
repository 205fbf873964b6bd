using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

[TestFixture]
public sealed class MessageWriterTests
{
    [Test]
    public void Notification_IsOneCompactLfTerminatedLine()
    {
        var line = Encoding.UTF8.GetString(MessageWriter.Notification(AcpMethods.SessionCancel, new CancelNotification("s-1"), AcpJsonContext.Default.CancelNotification));

        Assert.That(line, Is.EqualTo("{\"jsonrpc\":\"2.0\",\"method\":\"session/cancel\",\"params\":{\"sessionId\":\"s-1\"}}\n"));
    }

    [Test]
    public void Error_WithoutId_WritesNullId()
    {
        var line = Encoding.UTF8.GetString(MessageWriter.Error(null, JsonRpcErrorCodes.ParseError, "bad"));

        Assert.That(line, Is.EqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad\"}}\n"));
    }

    [Test]
    public void Request_ThenParse_RoundTrips()
    {
        var bytes = MessageWriter.Request(RpcId.FromNumber(3), AcpMethods.SessionPrompt, new PromptRequest("s", [ContentBlock.FromText("hi")]), AcpJsonContext.Default.PromptRequest);

        var parsed = new MessageParser().Parse(bytes.AsMemory(0, bytes.Length - 1), 1).Message!;

        Assert.That(parsed.Kind, Is.EqualTo(MessageKind.Request));
        Assert.That(parsed.ParamsAs(AcpJsonContext.Default.PromptRequest).Prompt[0].Text, Is.EqualTo("hi"));
    }
}
