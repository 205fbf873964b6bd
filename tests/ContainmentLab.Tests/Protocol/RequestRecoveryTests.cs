using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

/// <summary>An unreadable line that shows a request's id and method before its fault is answered under that id (G9).</summary>
[TestFixture]
[Category("G9")]
public sealed class RequestRecoveryTests
{
    private static ParseOutcome Parse(byte[] line) => new MessageParser(64).Parse(line, 3);

    private static ParseOutcome Parse(string line) => Parse(Encoding.UTF8.GetBytes(line));

    [Test]
    public void Parse_RequestCutOffAfterItsId_RecoversIdAsARequest()
    {
        var outcome = Parse("""{"jsonrpc":"2.0","id":910,"method":"_containmentlab/tool","params":{"sessionId":"s","name":""");

        Assert.That(outcome.IsValid, Is.False);
        Assert.That(outcome.ErrorCode, Is.EqualTo(JsonRpcErrorCodes.ParseError));
        Assert.That((outcome.RecoveredId, outcome.WasRequest), Is.EqualTo(((RpcId?)RpcId.FromNumber(910), true)));
    }

    [Test]
    public void Parse_StringIdAndMethodBeforeTooDeepParams_RecoversTheStringId()
    {
        var outcome = Parse("""{"method":"x","id":"req-7","params":""" + new string('[', 10_000) + new string(']', 10_000) + "}");

        Assert.That(outcome.Error, Does.Contain("depth"));
        Assert.That((outcome.RecoveredId, outcome.WasRequest), Is.EqualTo(((RpcId?)RpcId.FromString("req-7"), true)));
    }

    [Test]
    public void Parse_InvalidUtf8AfterIdAndMethod_RecoversTheId()
    {
        byte[] line = [.. """{"jsonrpc":"2.0","id":5,"method":"m","params":{"a":" """u8.ToArray(), 0xc3, 0x28, .. "\"}}"u8.ToArray()];

        var outcome = Parse(line);

        Assert.That(outcome.Error, Does.StartWith("invalid UTF-8"));
        Assert.That((outcome.RecoveredId, outcome.WasRequest), Is.EqualTo(((RpcId?)RpcId.FromNumber(5), true)));
    }

    [Test]
    public void Parse_BrokenResponse_IdRecoveredButNotARequest()
    {
        // A broken response is never answered: only an id next to a method makes the line a request.
        var outcome = Parse("""{"jsonrpc":"2.0","id":4,"result":{"x":""");

        Assert.That((outcome.RecoveredId, outcome.WasRequest), Is.EqualTo(((RpcId?)RpcId.FromNumber(4), false)));
    }

    [TestCase("{this is not json")]
    [TestCase("""{"id":{"nested":1},"method":"m",""")]
    [TestCase("""{"params":[[[[ """)]
    [TestCase("\u0000\u0001garbage")]
    public void Parse_NoReadableId_NothingRecovered(string line)
    {
        var outcome = Parse(line);

        Assert.That(outcome.IsValid, Is.False);
        Assert.That(outcome.RecoveredId, Is.Null);
        Assert.That(outcome.WasRequest, Is.False);
    }

    [Test]
    public void Parse_IdOnlyNestedDeeper_IsNotTakenForTheTopLevelId()
    {
        var outcome = Parse("""{"params":{"id":77,"method":"m"},"x":""");

        Assert.That(outcome.RecoveredId, Is.Null);
    }
}
