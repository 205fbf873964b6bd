using ContainmentLab.Protocol;

namespace ContainmentLab.Bridge;

/// <summary>What the connection hands up: the agent's requests and notifications, and what broke the protocol.</summary>
internal interface IConnectionHandler
{
    /// <summary>Answers one agent→host request with the response line (an empty line: the handler queued its answer itself). Must not throw.</summary>
    ValueTask<byte[]> OnRequestAsync(IncomingMessage request);

    void OnNotification(IncomingMessage notification);

    /// <summary>
    /// A response to one of our requests, on the reader, before whoever awaits it resumes: what it ends is over for
    /// every line read after it.
    /// </summary>
    void OnResponse(IncomingMessage response);

    void OnViolation(long lineNumber, string reason);

    /// <summary>A write to the agent made no progress for the stall timeout: the agent stopped reading its stdin.</summary>
    void OnWedged(TimeSpan stalled, int queuedLines);
}
