namespace ContainmentLab.Sweep;

/// <summary>The lease directory is not safe to write a lease in (another user's, a symbolic link, not a directory).</summary>
public sealed class LeaseDirectoryException : IOException
{
    public LeaseDirectoryException()
    {
    }

    public LeaseDirectoryException(string message)
        : base(message)
    {
    }

    public LeaseDirectoryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
