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
    public static bool AnyCarrier(IProcessTable table, string cookie) => Carriers(table, cookie).Any();

    /// <summary>Every live process other than this one that carries the cookie, with the start time it had when found.</summary>
    public static IEnumerable<ProcessIdentity> Carriers(IProcessTable table, string cookie)
    {
        ArgumentNullException.ThrowIfNull(table);
        foreach (var pid in table.EnumerateProcessIds())
        {
            if (pid != table.CurrentProcessId
                && table.GetStartTime(pid) is { } started
                && table.HasEnvironmentEntry(pid, EnvironmentVariable, cookie) == true)
            {
                yield return new ProcessIdentity(pid, started);
            }
        }
    }
}
