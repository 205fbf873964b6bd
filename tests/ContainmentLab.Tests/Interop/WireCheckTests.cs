namespace ContainmentLab.Tests.Interop;

/// <summary>
/// The schema checker itself (tests/interop/wire-check.mjs) on a transcript: a check that passes everything would make
/// the interop tests worthless, so it must name each kind of bad line, by direction and line number.
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
public sealed class WireCheckTests
{
    [Test]
    [CancelAfter(30_000)]
    public async Task WireCheck_TranscriptWithBadLines_NamesEachByDirectionAndLine(CancellationToken cancellationToken)
    {
        // Host view: out = client->agent, in = agent->client. Lines 1–4 each way are valid; the rest are not.
        string[] rows =
        [
            Out("""{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1,"clientCapabilities":{"fs":{"readTextFile":true,"writeTextFile":true},"terminal":true}}}"""),
            In("""{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{},"authMethods":[]}}"""),
            Out("""{"jsonrpc":"2.0","id":1,"method":"session/new","params":{"cwd":"/tmp","mcpServers":[]}}"""),
            In("""{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s1"}}"""),
            In("""{"jsonrpc":"2.0","id":0,"method":"_containmentlab/tool","params":{"sessionId":"s1","toolCallId":"t1","name":"desktop.press","arguments":{}}}"""),
            Out("""{"jsonrpc":"2.0","id":0,"error":{"code":-32010,"message":"interrupted"}}"""),
            In("""{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s1","update":{"sessionUpdate":"tool_call","toolCallId":"t1","title":"Press"}}}"""),
            Out("""{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"s1"}}"""),
            In("""{"jsonrpc":"2.0","id":1,"method":"fs/write_text_file","params":{"sessionId":"s1","path":"/tmp/x"}}"""),
            In("""{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s1","update":{"sessionUpdate":"tool_call_update","toolCallId":"t1","status":"cancelled"}}}"""),
            Out("""{"jsonrpc":"2.0","id":2,"method":"fs/read_text_file","params":{"sessionId":"s1","path":"/tmp/x"}}"""),
            Out("""{"jsonrpc":"2.0","id":7,"result":{}}"""),
            Out("not json"),
        ];
        var transcript = Path.Combine(Path.GetTempPath(), $"cl-wire-check-{Guid.NewGuid():N}.ndjson");
        await File.WriteAllLinesAsync(transcript, rows, cancellationToken);
        try
        {
            var run = await NodeProcess.RunAsync(InteropSetup.Node, [InteropSetup.Script("wire-check.mjs"), transcript], InteropSetup.InteropDirectory, TimeSpan.FromSeconds(20), cancellationToken);

            var violations = run.Stderr.Split('\n').Where(l => l.StartsWith("wire-check: ", StringComparison.Ordinal)).ToList();
            Assert.That(run.ExitCode, Is.EqualTo(1), run.Stderr);
            string[] expected =
            [
                "wire-check: agent->client line 5: params do not match WriteTextFileRequest: / must have required property 'content'",
                "wire-check: agent->client line 6: params do not match SessionNotification: /update/status must be one of \"pending\", \"in_progress\", \"completed\", \"failed\"; /update/sessionUpdate must be one of \"session_info_update\"; /update/status must be null",
                "wire-check: client->agent line 5: 'fs/read_text_file' is not an ACP v1 request for client->agent",
                "wire-check: client->agent line 6: a response to id 7, which no request agent->client is waiting on",
                "wire-check: client->agent line 7: not JSON", // node's own parse message follows
            ];
            Assert.That(violations, Has.Count.EqualTo(expected.Length), run.Stderr);
            Assert.That(violations.Zip(expected).Where(p => !p.First.StartsWith(p.Second, StringComparison.Ordinal)), Is.Empty, run.Stderr);
            Assert.That(run.Stderr, Does.Contain("message: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"fs/write_text_file\""), "each violation quotes its message");
            Assert.That(run.Stdout, Does.Contain("\"extensions\":{\"_containmentlab/tool\":\"ExtRequest / Error\"}"), "the extension request and its error answer were checked against ExtRequest and Error");
        }
        finally
        {
            File.Delete(transcript);
        }
    }

    private static string Out(string line) => Row("out", line);

    private static string In(string line) => Row("in", line);

    private static string Row(string dir, string line) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string>(StringComparer.Ordinal) { ["dir"] = dir, ["line"] = line });
}
