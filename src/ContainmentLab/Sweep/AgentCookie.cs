using System.Security.Cryptography;

namespace ContainmentLab.Sweep;

/// <summary>
/// The mark a bridge puts on its agent: a random value in an environment variable that every descendant inherits. The
/// sweep kills only processes that carry the cookie of a dead host's lease — never by name or command line, which is
/// how the reference bridge killed strangers and missed orphans (reference/fazm-bridge.md).
/// </summary>
public static class AgentCookie
{
    /// <summary>The environment variable the agent (and so each of its descendants) carries.</summary>
    public const string EnvironmentVariable = "CONTAINMENTLAB_COOKIE";

    /// <summary>A fresh cookie: 128 random bits, lower-case hex.</summary>
    public static string Create() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Whether any live process other than this one carries the cookie.</summary>
    public static bool AnyCarrier(IProcessTable table, string cookie)
    {
        ArgumentNullException.ThrowIfNull(table);
        return table.EnumerateProcessIds().Any(pid =>
            pid != table.CurrentProcessId
            && table.GetStartTime(pid) is not null
            && table.HasEnvironmentEntry(pid, EnvironmentVariable, cookie) == true);
    }
}
