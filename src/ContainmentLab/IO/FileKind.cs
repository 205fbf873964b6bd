namespace ContainmentLab.IO;

/// <summary>What a directory entry is, as lstat(2) says (a link is not followed).</summary>
internal enum FileKind
{
    Regular,
    Directory,
    SymbolicLink,
    Fifo,
    Socket,
    CharacterDevice,
    BlockDevice,
    Unknown,
}
