using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

[TestFixture]
public sealed class MessageParserTests
{
    private static ParseOutcome Parse(string line, int maxDepth = 64) =>
        new MessageParser(maxDepth).Parse(Encoding.UTF8.GetBytes(line), 12);

    [Test]
    public void Parse_RequestWithMethodAndId_IsRequest()
    {
        var outcome = Parse("""{"jsonrpc":"2.0","id":0,"method":"fs/read_text_file","params":{"sessionId":"s","path":"/a"}}""");

        Assert.That(outcome.IsValid, Is.True);
        Assert.That(outcome.Message!.Kind, Is.EqualTo(MessageKind.Request));
        Assert.That(outcome.Message.Id, Is.EqualTo(RpcId.FromNumber(0)));
        Assert.That(outcome.Message.LineNumber, Is.EqualTo(12));
    }

    [Test]
    public void Parse_SameIdWithoutMethod_IsResponse()
    {
        // ACP: both sides number from 0, so id 0 is live in both directions; only 'method' tells them apart.
        var outcome = Parse("""{"jsonrpc":"2.0","id":0,"result":{"stopReason":"cancelled"}}""");

        Assert.That(outcome.Message!.Kind, Is.EqualTo(MessageKind.Response));
        Assert.That(outcome.Message.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason, Is.EqualTo("cancelled"));
    }

    [Test]
    public void Parse_MethodWithoutId_IsNotification()
    {
        var outcome = Parse("""{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"s"}}""");

        Assert.That(outcome.Message!.Kind, Is.EqualTo(MessageKind.Notification));
        Assert.That(outcome.Message.Id, Is.Null);
    }

    [Test]
    public void Parse_StringId_RoundTrips()
    {
        var outcome = Parse("""{"jsonrpc":"2.0","id":"abc","method":"x"}""");

        Assert.That(outcome.Message!.Id!.Value.Text, Is.EqualTo("abc"));
    }

    [TestCase("{not json", JsonRpcErrorCodes.ParseError, "not valid JSON")]
    [TestCase("[1,2]", JsonRpcErrorCodes.InvalidRequest, "batch")]
    [TestCase("42", JsonRpcErrorCodes.InvalidRequest, "expected a JSON object")]
    [TestCase("""{"jsonrpc":"1.0","id":1,"method":"x"}""", JsonRpcErrorCodes.InvalidRequest, "'jsonrpc' must be")]
    [TestCase("""{"jsonrpc":"2.0","id":1.5,"method":"x"}""", JsonRpcErrorCodes.InvalidRequest, "'id' must be")]
    [TestCase("""{"jsonrpc":"2.0","id":1,"method":7}""", JsonRpcErrorCodes.InvalidRequest, "'method' must be")]
    [TestCase("""{"jsonrpc":"2.0","id":1,"method":"x","params":3}""", JsonRpcErrorCodes.InvalidRequest, "'params' must be")]
    [TestCase("""{"jsonrpc":"2.0","id":1}""", JsonRpcErrorCodes.InvalidRequest, "exactly one of 'result' and 'error'")]
    [TestCase("""{"jsonrpc":"2.0"}""", JsonRpcErrorCodes.InvalidRequest, "neither 'method' nor 'id'")]
    public void Parse_Malformed_FailsWithCodeAndReason(string line, int code, string reason)
    {
        var outcome = Parse(line);

        Assert.That(outcome.IsValid, Is.False);
        Assert.That(outcome.ErrorCode, Is.EqualTo(code));
        Assert.That(outcome.Error, Does.Contain(reason));
    }

    [Test]
    public void Parse_NestingDeeperThanLimit_IsRejected()
    {
        var deep = """{"jsonrpc":"2.0","method":"x","params":""" + new string('[', 100) + new string(']', 100) + "}";

        var outcome = Parse(deep, maxDepth: 16);

        Assert.That(outcome.IsValid, Is.False);
        Assert.That(outcome.ErrorCode, Is.EqualTo(JsonRpcErrorCodes.ParseError));
    }

    [Test]
    public void Parse_InvalidUtf8_IsParseError()
    {
        var bytes = "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"a\":\""u8.ToArray().Concat(new byte[] { 0xC3, 0x28 }).Concat("\"}}"u8.ToArray()).ToArray();

        var outcome = new MessageParser().Parse(bytes, 1);

        Assert.That(outcome.IsValid, Is.False);
        Assert.That(outcome.ErrorCode, Is.EqualTo(JsonRpcErrorCodes.ParseError));
    }

    [Test]
    public void Parse_RequestWithBadVersion_KeepsIdForTheErrorAnswer()
    {
        var outcome = Parse("""{"jsonrpc":"1.0","id":7,"method":"x"}""");

        Assert.That(outcome.RecoveredId, Is.EqualTo(RpcId.FromNumber(7)));
        Assert.That(outcome.WasRequest, Is.True);
    }

    [Test]
    public void ParamsAs_MissingRequiredMember_Throws()
    {
        var outcome = Parse("""{"jsonrpc":"2.0","id":1,"method":"fs/write_text_file","params":{"sessionId":"s","path":"/a"}}""");

        Assert.That(() => outcome.Message!.ParamsAs(AcpJsonContext.Default.WriteTextFileRequest), Throws.InstanceOf<System.Text.Json.JsonException>());
    }
}
