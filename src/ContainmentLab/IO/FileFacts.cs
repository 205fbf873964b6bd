namespace ContainmentLab.IO;

/// <summary>The parts of a file's status the checks need: kind, owner, permission bits, size, and identity.</summary>
/// <param name="Device">With <paramref name="Inode"/>: the same file, whatever its name now is.</param>
internal readonly record struct FileFacts(FileKind Kind, uint OwnerId, UnixFileMode Mode, long Size, ulong Device, ulong Inode)
{
    /// <summary>"a FIFO", "a directory": for messages.</summary>
    public string KindText => Kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        _ => "a file of unknown type",
    };

    /// <summary>The permission bits as chmod(1) spells them, e.g. <c>0777</c>.</summary>
    public string ModeText => "0" + Convert.ToString((int)Mode & 0b111_111_111_111, 8).PadLeft(3, '0');
}
