namespace ContainmentLab.IO;

/// <summary>A file that was not opened or not read: not a regular file, a link, another user's, or over a size limit.</summary>
/// <remarks>An <see cref="IOException"/>, so that callers that already report I/O failures report this too.</remarks>
public sealed class FileRefusedException : IOException
{
    public FileRefusedException()
    {
    }

    public FileRefusedException(string message)
        : base(message)
    {
    }

    public FileRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
