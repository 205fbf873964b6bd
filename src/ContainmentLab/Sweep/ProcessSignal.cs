namespace ContainmentLab.Sweep;

/// <summary>The two kinds of stop the sweep uses: graceful, then forced.</summary>
public enum ProcessSignal
{
    /// <summary>Ask the process to exit (POSIX SIGTERM). It may ignore it.</summary>
    Terminate,

    /// <summary>End it now (POSIX SIGKILL). It cannot be ignored.</summary>
    Kill,
}
