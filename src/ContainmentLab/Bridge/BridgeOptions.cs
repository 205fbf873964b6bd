using ContainmentLab.Dispatch;
using ContainmentLab.Protocol;
using Microsoft.Extensions.Logging;

namespace ContainmentLab.Bridge;

/// <summary>Everything a bridge needs; defaults inline.</summary>
public sealed class BridgeOptions
{
    /// <summary>The agent to start as a child process. Either this or <see cref="TransportFactory"/>.</summary>
    public AgentCommand? Command { get; init; }

    /// <summary>Starts the agent some other way (in-process over streams, for tests and benchmarks).</summary>
    public Func<IAgentTransport>? TransportFactory { get; init; }

    /// <summary>
    /// Starts the <see cref="Command"/> once the bridge has prepared it (its cookie and environment added); null for
    /// <see cref="AgentProcess.Start"/>. A host can wrap the transport it returns, e.g. to record the raw bytes both ways.
    /// </summary>
    public Func<AgentCommand, IAgentTransport>? StartAgent { get; init; }

    /// <summary>Every timer, delay and timestamp of the bridge comes from here.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>How long an interrupted turn may take to be acknowledged before the agent is killed (G3).</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bound on <c>initialize</c> and <c>session/new</c>: no await in the bridge is unbounded.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A write to the agent's stdin that makes no progress for this long marks the agent wedged (G6).</summary>
    public TimeSpan WriteStallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// After the agent process exited, how long the bridge goes on reading its stdout while the pipe stays open and
    /// keeps delivering: a descendant that inherited it writes on (G5). What the agent itself wrote is in the pipe
    /// already and is read in far less; reading ends as soon as the pipe is empty, so this bound only cuts off a
    /// descendant's endless output.
    /// </summary>
    public TimeSpan ExitDrainTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Bound on a restart inside NewSessionAsync: waiting for another caller's restart, for the dead agent's clean-up,
    /// the backoff and the fresh agent's start. Past it NewSessionAsync throws <see cref="TimeoutException"/> (G3).
    /// </summary>
    public TimeSpan RestartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Bound on each wait of DisposeAsync that is not bounded by the shutdown ladder: the agent's clean-up (its watcher)
    /// and the host tools' disposal. Past it the step is logged as a warning and the teardown goes on (G3).
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Starting a fresh agent after one died (G5).</summary>
    public RestartOptions Restart { get; init; } = new();

    /// <summary>Each step of the shutdown ladder (close stdin, SIGTERM) waits this long before the next.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(2);

    public FramingOptions Framing { get; init; } = new();

    /// <summary>The root the fs tools are confined to, and the sessions' working directory. Default: a fresh temporary directory.</summary>
    public string? SandboxRoot { get; init; }

    public PolicySet Policies { get; init; } = new();

    /// <summary>The user's dialog for the confirm policy (true = allow). Without one, confirm means deny.</summary>
    public Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? ConfirmAsync { get; init; }

    /// <summary>How long the confirm dialog may stay unanswered: then it counts as a denial (<see cref="DispatcherOptions.ConfirmTimeout"/>).</summary>
    public TimeSpan ConfirmTimeout { get; init; } = DispatcherOptions.DefaultConfirmTimeout;

    /// <summary>The client the <c>http.request</c> tool uses (default: one owned by the bridge).</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>Hosts <c>http.request</c> may reach; null for loopback only.</summary>
    public IReadOnlySet<string>? AllowedHttpHosts { get; init; }

    /// <summary>Replaces the standard host tools.</summary>
    public Func<Sandbox, VirtualDesktop, HttpClient, HostToolRegistry>? Tools { get; init; }

    /// <summary>
    /// Where the audit log is written as JSON Lines; null keeps it in memory only. When the file cannot be written (a full
    /// disk) no host tool runs, Stop still works, and <see cref="Events.AuditFailed"/> says why (see <see cref="AuditLog"/>).
    /// </summary>
    public string? AuditPath { get; init; }

    public IWireTap? WireTap { get; init; }

    /// <summary>The tool watchdog (G4); by default its timeouts honour CONTAINMENTLAB_TOOL_TIMEOUT_SECONDS.</summary>
    public WatchdogOptions Watchdog { get; init; } = WatchdogOptions.FromEnvironment();

    /// <summary>Leases and the orphan sweep (G7).</summary>
    public Sweep.OrphanSweepOptions Sweep { get; init; } = new();

    public ILoggerFactory? LoggerFactory { get; init; }
}
