using System.Text;
using ContainmentLab.Protocol;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>The runner's wire tap on its own: the line splitter, the tolerant head reader, the tee streams.</summary>
[TestFixture]
[Category("Fixtures")]
public sealed class WireTapTests
{
    private static TapStreamRecord Split(params string[] chunks)
    {
        var stream = new TapStream(1, TapDirection.FromAgent);
        var at = 0.0;
        foreach (var chunk in chunks)
        {
            var call = stream.BeginCall(TimeSpan.FromSeconds(at));
            stream.EndCall(call, TimeSpan.FromSeconds(at += 1), Encoding.UTF8.GetBytes(chunk));
        }

        var end = stream.BeginCall(TimeSpan.FromSeconds(at));
        stream.EndCall(end, TimeSpan.FromSeconds(at), default);
        return stream.Snapshot();
    }

    [Test]
    public void Split_LinesAcrossChunks_AreNumberedHashedAndTimedLikeTheBridgesReader()
    {
        var tap = Split("{\"a\":1}\r\n{\"b\"", ":2}\n\n", "tail\r");

        Assert.That(tap.Lines.Select(l => (l.Number, l.Length, l.Complete, l.Chunk)), Is.EqualTo(new[] { (1L, 7L, true, 1), (2L, 7L, true, 2), (3L, 0L, true, 2), (4L, 5L, false, 4) }));
        Assert.That(tap.Lines[0].Hash, Is.EqualTo(TapStream.Hash("{\"a\":1}"u8)), "the CR before the LF is not the line's");
        Assert.That(tap.Lines[3].Hash, Is.EqualTo(TapStream.Hash("tail\r"u8)), "a CR at end of file is, as the bridge's reader takes it");
        Assert.That((tap.Lines[1].StartedAt, tap.Lines[1].At), Is.EqualTo((TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2))));
        Assert.That(tap.EndedAt, Is.EqualTo(TimeSpan.FromSeconds(3)));
        Assert.That(tap.CallAfter(2)?.Index, Is.EqualTo(3), "the read after the second chunk");
    }

    [Test]
    public void Split_LinesFromTheBridgesOwnReader_MatchTheTap()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"x\":\"\u00e9\"}\r\n\n{}\r\r\nlast");
        var stream = new TapStream(1, TapDirection.FromAgent);
        var call = stream.BeginCall(TimeSpan.Zero);
        stream.EndCall(call, TimeSpan.Zero, bytes);
        stream.EndOfStream(TimeSpan.Zero);
        var reader = new LineReader(new MemoryStream(bytes));
        var lines = new List<(long, ulong)>();
        while (reader.ReadLineAsync().AsTask().Result is { Status: LineReadStatus.Line } read)
        {
            lines.Add((read.Line.Length, TapStream.Hash(read.Line.Span)));
        }

        Assert.That(stream.Snapshot().Lines.Select(l => (l.Length, l.Hash)), Is.EqualTo(lines));
    }

    [Test]
    [CancelAfter(60_000)]
    public void Split_AHugeLine_KeepsOnlyItsHeadButItsLengthAndHash()
    {
        var stream = new TapStream(1, TapDirection.FromAgent);
        var chunk = new byte[1024 * 1024];
        Array.Fill(chunk, (byte)'x');
        var head = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"fs/write_text_file\",\"params\":{\"sessionId\":\"s\",\"content\":\""u8.ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();
        stream.EndCall(stream.BeginCall(TimeSpan.Zero), TimeSpan.Zero, head);
        for (var i = 0; i < 64; i++)
        {
            stream.EndCall(stream.BeginCall(TimeSpan.Zero), TimeSpan.Zero, chunk);
        }

        stream.EndCall(stream.BeginCall(TimeSpan.Zero), TimeSpan.Zero, "\"}}\n"u8);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        var line = stream.Snapshot().Lines.Single();
        Assert.That(line.Length, Is.EqualTo(head.Length + (64L * chunk.Length) + 3));
        Assert.That(line.Head is { Kind: LineKind.Request, Id: "5", Method: "fs/write_text_file", SessionId: "s", Truncated: true, Partial: false }, Is.True, line.Head.ToString());
        Assert.That(allocated, Is.LessThan(1024 * 1024), "64 MiB went by; the tap kept its head");
    }

    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"fs/read_text_file","params":{"sessionId":"s1","path":"/a"}}""", "Request", "3", "fs/read_text_file", "s1", false)]
    [TestCase("""{"jsonrpc":"2.0","id":"x","result":{}}""", "Response", "\"x\"", null, null, false)]
    [TestCase("""{"jsonrpc":"2.0","id":910,"method":"m","params":{"a":""", "Request", "910", "m", null, true)]
    [TestCase("""{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s2","id":1}}""", "Notification", null, "session/update", "s2", false)]
    [TestCase("""{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}""", "Response", null, null, null, false)]
    [TestCase("not json", "Unreadable", null, null, null, false)]
    public void Read_TheHeadOfALine_TakesWhatCanBeRead(string line, string kind, string? id, string? method, string? session, bool partial)
    {
        var head = LineHead.Read(Encoding.UTF8.GetBytes(line));

        Assert.That((head.Kind.ToString(), head.Id, head.Method, head.SessionId, head.Partial), Is.EqualTo((kind, id, method, session, partial)));
    }

    [Test]
    public void Read_AnswersAndUpdates_TakeTheFieldsTheOraclesNeed()
    {
        var permission = LineHead.Read("""{"jsonrpc":"2.0","id":4,"result":{"outcome":{"outcome":"selected","optionId":"allow"}}}"""u8);
        var failed = LineHead.Read("""{"jsonrpc":"2.0","id":5,"error":{"code":-32001,"message":"interrupted"}}"""u8);
        var update = LineHead.Read("""{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"tool_call","toolCallId":"t9","title":"Build","status":"in_progress"}}}"""u8);
        var tool = LineHead.Read("""{"jsonrpc":"2.0","id":6,"method":"_containmentlab/tool","params":{"sessionId":"s","toolCallId":"t1","name":"desktop.press","arguments":{"nested":{"sessionId":"no"}}}}"""u8);

        Assert.That((permission.HasResult, permission.PermissionOutcome), Is.EqualTo((true, "selected")));
        Assert.That((failed.HasError, failed.ErrorCode), Is.EqualTo((true, -32001)));
        Assert.That((update.UpdateKind, update.ToolCallId, update.UpdateTitle, update.UpdateStatus), Is.EqualTo(("tool_call", "t9", "Build", "in_progress")));
        Assert.That((tool.SessionId, tool.ToolCallId, tool.ToolName, tool.Depth), Is.EqualTo(("s", "t1", "desktop.press", 4)));
    }

    [Test]
    public void Read_InvalidUtf8OrTooDeep_IsMalformedButKeepsItsHead()
    {
        var utf8 = LineHead.Read([.. "{\"jsonrpc\":\"2.0\",\"id\":940,\"method\":\"m\",\"params\":{\"t\":\""u8, 0xC3, 0x28, .. "\"}}"u8]);
        var deep = LineHead.Read(Encoding.UTF8.GetBytes("{\"id\":1,\"method\":\"m\",\"params\":" + new string('[', 100) + new string(']', 100) + "}"));

        Assert.That((utf8.Kind, utf8.Id, utf8.Partial), Is.EqualTo((LineKind.Request, "940", true)));
        Assert.That((deep.Id, deep.Partial, deep.Depth), Is.EqualTo(("1", false, 101)));
    }

    [Test]
    public async Task TeeStream_ReadsAndWrites_AreRecordedAsTheyPass()
    {
        var from = new TapStream(1, TapDirection.FromAgent);
        var to = new TapStream(1, TapDirection.ToAgent);
        var now = TimeSpan.Zero;
        using var source = new MemoryStream("{\"a\":1}\n{\"b\":2}\n"u8.ToArray());
        using var sink = new MemoryStream();
        await using (var read = new TeeStream(source, from, () => now += TimeSpan.FromSeconds(1), null))
        await using (var write = new TeeStream(sink, to, () => now, null))
        {
            var buffer = new byte[5];
            while (await read.ReadAsync(buffer) is > 0 and var n)
            {
                await write.WriteAsync(buffer.AsMemory(0, n));
            }
        }

        Assert.That(sink.ToArray(), Is.EqualTo("{\"a\":1}\n{\"b\":2}\n"u8.ToArray()), "the bytes pass unchanged");
        Assert.That(from.Snapshot().Lines.Select(l => l.Number), Is.EqualTo(new[] { 1L, 2L }));
        Assert.That(from.Snapshot().EndedAt, Is.Not.Null, "the read that returned nothing is end of stream");
        Assert.That(to.Snapshot().Lines.Select(l => l.Length), Is.EqualTo(new[] { 7L, 7L }));
        Assert.That(to.Snapshot().EndedAt, Is.Not.Null, "closing the agent's stdin is recorded");
        Assert.That(from.Snapshot().Calls, Has.Count.EqualTo(5), "16 bytes in reads of 5, and the empty read");
    }
}
