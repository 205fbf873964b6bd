using System.Text.Json;
using ContainmentLab.Dispatch;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Dispatch;

/// <summary><c>fs/read_text_file</c> against what an agent can put in the sandbox: FIFOs, huge files, links.</summary>
[TestFixture]
[Platform(Include = "Linux")]
public sealed class FileSystemToolTests
{
    private DirectoryInfo _root = null!;
    private Sandbox _sandbox = null!;

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("cl-fs-tool-");
        _sandbox = new Sandbox(_root.FullName);
    }

    [TearDown]
    public void TearDown() => _root.Delete(recursive: true);

    private static ToolInvocation Read(string path, int? line = null, int? limit = null) => new(
        "s1",
        "t1",
        AcpMethods.ReadTextFile,
        JsonSerializer.SerializeToElement(new ReadTextFileRequest("s1", path, line, limit), AcpJsonContext.Default.ReadTextFileRequest),
        "1");

    private static string Content(JsonElement result) => result.Deserialize(AcpJsonContext.Default.ReadTextFileResponse)!.Content;

    [Test]
    public async Task ReadTextFile_RegularFile_ReadsIt()
    {
        await File.WriteAllTextAsync(Path.Combine(_root.FullName, "a.txt"), "one\ntwo\nthree");

        var result = await new ReadTextFileTool(_sandbox).InvokeAsync(Read("a.txt", line: 2, limit: 1), CancellationToken.None);

        Assert.That(Content(result), Is.EqualTo("two"));
    }

    [Test]
    [CancelAfter(30_000)]
    [Category("Process")]
    public async Task ReadTextFile_Fifo_RefusedWithoutBlocking()
    {
        var fifo = Path.Combine(_root.FullName, "pipe.txt");
        SpecialFiles.MakeFifo(fifo);
        var read = Task.Run(async () => await new ReadTextFileTool(_sandbox).InvokeAsync(Read("pipe.txt"), CancellationToken.None));
        try
        {
            // Bounded: open(2) of a FIFO without a writer blocks for ever; a tool that does so fails here, it does not hang.
            var ex = Assert.ThrowsAsync<ToolFailedException>(async () => await read.WaitAsync(TimeSpan.FromSeconds(10)));

            Assert.That(ex!.Message, Does.Contain("pipe.txt").And.Contain("not a regular file").And.Contain("FIFO"));
        }
        finally
        {
            SpecialFiles.UnblockReaders(fifo, read);
        }
    }

    [Test]
    public async Task ReadTextFile_OverTheDefaultLimit_RefusedBeforeReading()
    {
        var big = Path.Combine(_root.FullName, "big.txt");
        await File.WriteAllTextAsync(big, new string('a', FramingOptions.DefaultMaxLineBytes + 1));

        var ex = Assert.ThrowsAsync<ToolFailedException>(async () => await new ReadTextFileTool(_sandbox).InvokeAsync(Read("big.txt"), CancellationToken.None));

        Assert.That(ex!.Message, Does.Contain("big.txt").And.Contain("over the limit"));
    }

    [Test]
    public async Task ReadTextFile_OverAConfiguredLimit_Refused_AndAtTheLimitRead()
    {
        await File.WriteAllTextAsync(Path.Combine(_root.FullName, "ten.txt"), "0123456789");
        await File.WriteAllTextAsync(Path.Combine(_root.FullName, "eleven.txt"), "0123456789A");
        var tool = new ReadTextFileTool(_sandbox, new FileSystemToolOptions { MaxReadBytes = 10 });

        var ok = await tool.InvokeAsync(Read("ten.txt"), CancellationToken.None);
        var ex = Assert.ThrowsAsync<ToolFailedException>(async () => await tool.InvokeAsync(Read("eleven.txt"), CancellationToken.None));

        Assert.That(Content(ok), Is.EqualTo("0123456789"));
        Assert.That(ex!.Message, Does.Contain("11 bytes").And.Contain("limit of 10 bytes"));
    }

    [Test]
    public async Task ReadTextFile_TextThatEscapesPastTheAnswerLimit_RefusedNotCut()
    {
        // 50 bytes on disk, 300 as JSON: each control character is written \u0001 on the wire.
        await File.WriteAllTextAsync(Path.Combine(_root.FullName, "ctl.txt"), new string('\u0001', 50));
        var tool = new ReadTextFileTool(_sandbox, new FileSystemToolOptions { MaxReadBytes = 100, MaxAnswerBytes = 100 });

        var ex = Assert.ThrowsAsync<ToolFailedException>(async () => await tool.InvokeAsync(Read("ctl.txt"), CancellationToken.None));

        Assert.That(ex!.Message, Does.Contain("as JSON").And.Contain("answer limit of 100 bytes"));
    }

    [Test]
    public void ReadTextFile_Directory_RefusedAsNotARegularFile()
    {
        Directory.CreateDirectory(Path.Combine(_root.FullName, "sub"));

        var ex = Assert.ThrowsAsync<ToolFailedException>(async () => await new ReadTextFileTool(_sandbox).InvokeAsync(Read("sub"), CancellationToken.None));

        Assert.That(ex!.Message, Does.Contain("not a regular file").And.Contain("directory"));
    }

    [Test]
    public void ReadTextFile_Missing_SaysNoSuchFile()
    {
        var ex = Assert.ThrowsAsync<ToolFailedException>(async () => await new ReadTextFileTool(_sandbox).InvokeAsync(Read("nope.txt"), CancellationToken.None));

        Assert.That(ex!.Message, Does.Contain("no such file: 'nope.txt'"));
    }

    [Test]
    public async Task ReadTextFile_LinkInsideTheSandbox_ReadsItsTarget()
    {
        await File.WriteAllTextAsync(Path.Combine(_root.FullName, "target.txt"), "hello");
        File.CreateSymbolicLink(Path.Combine(_root.FullName, "link.txt"), "target.txt");

        var result = await new ReadTextFileTool(_sandbox).InvokeAsync(Read("link.txt"), CancellationToken.None);

        Assert.That(Content(result), Is.EqualTo("hello"), "the sandbox resolves links; only the resolved file is opened");
    }
}
