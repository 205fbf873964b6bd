using ContainmentLab.Dispatch;
using ContainmentLab.Scenarios;
using static ContainmentLab.Tests.Scenarios.WireBuilder;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The fixture runner's G8 oracle on hand-made evidence: the bridge's in-memory audit log is clean, yet the file it
/// wrote has a second terminal record for a call, or none for a call the tap saw the agent ask for.
/// </summary>
[TestFixture]
[Category("G8")]
[Category("Fixtures")]
public sealed class AuditOracleTests
{
    private static readonly AuditRecord[] s_clean = [Audit(1, 1.1, AuditKind.Dispatched, "t1"), Audit(2, 1.2, AuditKind.Completed, "t1")];

    private static WireBuilder OneCall() => new WireBuilder().Agent(1.0, Tool(3, "t1")).Bridge(1.3, Result(3)).Waiting(1.4);

    private static string? G8(WireBuilder wire, IReadOnlyList<AuditRecord> file) =>
        GuaranteeChecks.Check("G8", WireBuilder.Log([wire.Build()], audit: s_clean, auditFile: file));

    [Test]
    public void G8_OneTerminalRecordInTheFile_Holds()
    {
        Assert.That(G8(OneCall(), s_clean), Is.Null);
    }

    [Test]
    public void G8_ASecondTerminalRecordInTheFile_IsCaughtThoughMemoryShowsOne()
    {
        AuditRecord[] file = [.. s_clean, Audit(3, 1.25, AuditKind.Canceled, "t1")];

        Assert.That(G8(OneCall(), file), Is.EqualTo(
            "G8: tool call t1 of session s1 (request 3 '_containmentlab/tool' desktop.press, agent 1 wire line 1) has 2 terminal records in the audit file (seq 2 'completed', seq 3 'canceled')"));
    }

    [Test]
    public void G8_ACallTheAgentAskedForWithNoRecord_IsCaught()
    {
        var wire = OneCall().Agent(1.5, Tool(4, "t2")).Bridge(1.6, Error(4));

        Assert.That(G8(wire, s_clean), Is.EqualTo("G8: tool call t2 of session s1 (request 4 '_containmentlab/tool' desktop.press, agent 1 wire line 2) has no terminal record in the audit file"));
    }

    [Test]
    public void G8_AnAcpMethodIsKeyedByItsRequestId()
    {
        var wire = new WireBuilder().Agent(1.0, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"fs/read_text_file\",\"params\":{\"sessionId\":\"sess-1\",\"path\":\"/a\"}}").Bridge(1.1, Error(9)).Waiting(1.2);

        Assert.That(G8(wire, [Audit(1, 1.05, AuditKind.Denied, "rpc-9")]), Is.Null);
        Assert.That(G8(wire, []), Does.StartWith("G8: tool call rpc-9 of session s1 (request 9 'fs/read_text_file'"));
    }

    [Test]
    public void G8_AMalformedLine_IsHostileInputNotAToolCall()
    {
        var wire = new WireBuilder().Raw(1.0, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"_containmentlab/tool\",\"params\":{\"sessionId\":\"sess-1\",\"toolCallId\":\"t9\",\"name\":\"desktop.press\",\n"u8.ToArray())
            .BridgeRead(1, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"_containmentlab/tool\",\"params\":{\"sessionId\":\"sess-1\",\"toolCallId\":\"t9\",\"name\":\"desktop.press\",").Waiting(1.1);

        Assert.That(G8(wire, []), Is.Null);
    }

    [Test]
    public void G8_AnUnreadableAuditFile_IsAViolation()
    {
        var log = WireBuilder.Log([OneCall().Build()], audit: s_clean) with { AuditFile = null, AuditFileError = "audit.jsonl:3: not an audit record" };

        Assert.That(GuaranteeChecks.Check("G8", log), Is.EqualTo("G8: the audit file could not be read back: audit.jsonl:3: not an audit record"));
    }
}
