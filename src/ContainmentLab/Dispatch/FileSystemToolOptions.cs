using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>Bounds on the <c>fs/*</c> tools: an answer has to fit on one wire line, and the host's memory is not the agent's to fill.</summary>
public sealed class FileSystemToolOptions
{
    /// <summary>Room left on a line of <see cref="FramingOptions.DefaultMaxLineBytes"/> for the JSON-RPC envelope around the text.</summary>
    public const int EnvelopeBytes = 64 * 1024;

    /// <summary>The default for both limits: what fits, with its envelope, on one line of the default framing.</summary>
    public const int DefaultMaxBytes = FramingOptions.DefaultMaxLineBytes - EnvelopeBytes;

    /// <summary>The largest file <c>fs/read_text_file</c> reads, in bytes on disk; a larger one is refused before a byte is read.</summary>
    public int MaxReadBytes { get; init; } = DefaultMaxBytes;

    /// <summary>
    /// The longest text <c>fs/read_text_file</c> answers with, in bytes once JSON-encoded: escaping can make a file's text
    /// up to six times longer (a control character becomes <c>\u0001</c>), so a file under <see cref="MaxReadBytes"/> may
    /// still not fit on one line. Such an answer is refused, not cut.
    /// </summary>
    public int MaxAnswerBytes { get; init; } = DefaultMaxBytes;
}
