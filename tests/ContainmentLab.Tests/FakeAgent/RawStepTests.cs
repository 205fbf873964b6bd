using ContainmentLab.FakeAgent;

namespace ContainmentLab.Tests.FakeAgent;

[TestFixture]
[Category("FakeAgent")]
public sealed class RawStepTests
{
    private static RawStep Parse(string step) =>
        (RawStep)FakeAgentScript.Parse($"prompts:\n  - steps:\n      - raw: {step}\n", "raw.yaml").Prompts[0].Steps[0];

    [Test]
    public void Parse_Text_IsItsUtf8BytesWithANewline()
    {
        var raw = Parse("\"{oops\"");

        Assert.That(raw.Bytes, Is.EqualTo("{oops"u8.ToArray()));
        Assert.That((raw.Newline, raw.Repeat), Is.EqualTo((true, 1)));
    }

    [Test]
    public void Parse_HexFillNewlineRepeat()
    {
        Assert.That(Parse("{ hex: \"c3 28\" }").Bytes, Is.EqualTo(new byte[] { 0xc3, 0x28 }));
        var fill = Parse("{ fill: 10, newline: false, repeat: 3 }");
        Assert.That(fill.Bytes, Is.EqualTo("xxxxxxxxxx"u8.ToArray()));
        Assert.That((fill.Newline, fill.Repeat), Is.EqualTo((false, 3)));
    }

    [TestCase("{ hex: \"zz\" }", "raw.yaml:3:21: hex: expected pairs")]
    [TestCase("{ newline: true }", "raw.yaml:3:14: raw needs one of text, hex or fill")]
    public void Parse_Bad_SaysWhereAndWhat(string step, string message)
    {
        Assert.That(() => Parse(step), Throws.TypeOf<ScriptException>().With.Message.StartsWith(message));
    }
}
