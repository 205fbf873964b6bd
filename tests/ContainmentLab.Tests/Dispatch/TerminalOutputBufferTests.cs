using System.Text;
using ContainmentLab.Dispatch;

namespace ContainmentLab.Tests.Dispatch;

[TestFixture]
public sealed class TerminalOutputBufferTests
{
    [Test]
    public void Append_UnderTheLimit_KeepsEverything()
    {
        var buffer = new TerminalOutputBuffer(16);
        buffer.Append("abc"u8);
        buffer.Append("déf"u8);

        Assert.That(buffer.Snapshot(), Is.EqualTo(("abcdéf", false)));
    }

    [Test]
    public void Append_OverTheLimit_DropsTheOldestWholeCharacters()
    {
        var buffer = new TerminalOutputBuffer(5);
        buffer.Append("ab"u8);
        buffer.Append("€x"u8); // € is 3 bytes: 6 in all, one too many

        Assert.That(buffer.Snapshot(), Is.EqualTo(("b€x", true)));
        buffer.Append("y"u8); // dropping 'b' is enough
        Assert.That(buffer.Snapshot(), Is.EqualTo(("€xy", true)));
        buffer.Append("z"u8); // dropping one byte of € cuts into it: the whole € goes
        Assert.That(buffer.Snapshot(), Is.EqualTo(("xyz", true)));
    }

    [Test]
    public void Append_OneChunkLargerThanTheLimit_KeepsItsTailFromACharacterStart()
    {
        var buffer = new TerminalOutputBuffer(4);
        buffer.Append(Encoding.UTF8.GetBytes("0123€€"));

        Assert.That(buffer.Snapshot(), Is.EqualTo(("€", true)), "the last 4 bytes start inside the first €");
    }

    [Test]
    public void Append_ZeroLimit_KeepsNothingButSaysSo()
    {
        var buffer = new TerminalOutputBuffer(0);
        buffer.Append("a"u8);

        Assert.That(buffer.Snapshot(), Is.EqualTo((string.Empty, true)));
    }

    [TestCase("abc", 0)]
    [TestCase("ab\u00e9", 0)]
    [TestCase("\u20ac", 0)]
    [TestCase("\U0001F600", 0)]
    public void IncompleteUtf8Tail_WholeCharacters_Zero(string text, int expected)
    {
        Assert.That(Terminal.IncompleteUtf8Tail(Encoding.UTF8.GetBytes(text)), Is.EqualTo(expected));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void IncompleteUtf8Tail_CutFourByteCharacter_HoldsBackItsStart(int kept)
    {
        var bytes = Encoding.UTF8.GetBytes("a\U0001F600")[..(1 + kept)];

        Assert.That(Terminal.IncompleteUtf8Tail(bytes), Is.EqualTo(kept));
    }
}
