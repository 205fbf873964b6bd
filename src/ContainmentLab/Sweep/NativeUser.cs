using System.Runtime.InteropServices;

namespace ContainmentLab.Sweep;

/// <summary>The effective user id (.NET has no API for it): it names the per-user runtime directory.</summary>
internal static partial class NativeUser
{
    public static uint EffectiveUserId() => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? GetEuid() : 0;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
