using System.Text;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

/// <summary>The fast read of <c>_containmentlab/tool</c> params agrees with the serializer, and fails as it does.</summary>
[TestFixture]
public sealed class ContainmentToolParamsTests
{
    private static IncomingMessage Request(string parameters) =>
        new MessageParser().Parse(Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","id":3,"method":"_containmentlab/tool","params":{{parameters}}}"""), 1).Message!;

    [TestCase("""{"sessionId":"s1","toolCallId":"t1","name":"desktop.press","arguments":{"target":"OK"}}""")]
    [TestCase("""{"name":"desktop.key","toolCallId":"t\u0032","sessionId":"s1","extra":[1,2],"arguments":{"keys":"ctrl+s"}}""")]
    [TestCase("""{"sessionId":"s1","toolCallId":"t1","name":"desktop.press"}""")]
    [TestCase("""{"sessionId":"s1","toolCallId":"t1","name":"desktop.press","arguments":null}""")]
    [TestCase("""{"sessionId":"s1","toolCallId":"t1","name":"x","arguments":"a string"}""")]
    public void Read_WellFormed_AgreesWithTheSerializer(string parameters)
    {
        var request = Request(parameters);
        var expected = request.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest);

        var read = ContainmentToolParams.Read(request);

        Assert.That((read.SessionId, read.ToolCallId, read.Name), Is.EqualTo((expected.SessionId, expected.ToolCallId, expected.Name)));
        Assert.That(read.Arguments?.GetRawText(), Is.EqualTo(expected.Arguments?.GetRawText()));
    }

    [TestCase("""{"sessionId":"s1","toolCallId":"t1"}""")]
    [TestCase("""{"sessionId":7,"toolCallId":"t1","name":"desktop.press"}""")]
    [TestCase("""{"sessionId":null,"toolCallId":"t1","name":"desktop.press"}""")]
    [TestCase("""[1,2]""")]
    public void Read_BadShape_FailsLikeTheSerializer(string parameters)
    {
        var request = Request(parameters);
        var expected = Assert.Throws<JsonException>(() => request.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest))!;

        Assert.That(() => ContainmentToolParams.Read(request), Throws.TypeOf<JsonException>().With.Message.EqualTo(expected.Message));
    }
}
