namespace ContainmentLab.Sweep;

/// <summary>
/// One host's lease while it lives (G7). It names every cookie whose carriers may still run: the host's own, given to
/// every process the host starts itself (terminals), and one per agent incarnation, kept until that agent is dead and
/// nothing carries it. The lease is written before any process with a new cookie starts, so a host killed right after a
/// start still leaves a lease that names what it started.
/// </summary>
internal sealed class HostLease
{
    private readonly Lock _lock = new();
    private readonly LeaseRegistry _registry;
    private readonly IProcessTable _table;
    private readonly TimeProvider _time;
    private readonly Action<string, string> _onProblem;
    private readonly List<string> _agentCookies = [];
    private readonly HashSet<string> _deadAgents = new(StringComparer.Ordinal);
    private Lease? _lease;
    private bool _unavailable;
    private bool _released;

    /// <param name="onProblem">Told (path, reason) when the lease cannot be written or removed: the host's processes then escape a later sweep.</param>
    public HostLease(LeaseRegistry registry, IProcessTable table, TimeProvider timeProvider, Action<string, string> onProblem)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(onProblem);
        _registry = registry;
        _table = table;
        _time = timeProvider;
        _onProblem = onProblem;
    }

    /// <summary>The lease file (the directory before the first write), for messages.</summary>
    public string Path
    {
        get
        {
            lock (_lock)
            {
                return _lease is { } lease ? _registry.PathOf(lease) : _registry.Directory;
            }
        }
    }

    /// <summary>The cookie for a process the host starts itself; null when no lease can exist (the process table cannot say when this process started).</summary>
    public string? HostCookie()
    {
        lock (_lock)
        {
            return EnsureLease()?.Cookie;
        }
    }

    /// <summary>A fresh cookie for the agent about to start, in the lease before the agent runs; null when no lease can exist.</summary>
    public string? BeginAgent(string agent)
    {
        lock (_lock)
        {
            if (EnsureLease() is not { } lease)
            {
                return null;
            }

            var cookie = AgentCookie.Create();
            _agentCookies.Add(cookie);
            ForgetSweptAgents();
            Write(lease with { AgentCookies = [.. _agentCookies], Agent = agent, AgentPid = null, AgentStartTime = null });
            return cookie;
        }
    }

    /// <summary>The agent with <paramref name="cookie"/> runs as <paramref name="pid"/>: recorded for reports.</summary>
    public void AgentStarted(string cookie, int pid)
    {
        lock (_lock)
        {
            if (_lease is { } lease && !_released && _agentCookies.LastOrDefault() == cookie)
            {
                Write(lease with { AgentPid = pid, AgentStartTime = _table.GetStartTime(pid) });
            }
        }
    }

    /// <summary>
    /// The agent with <paramref name="cookie"/> is dead: whatever still carries that cookie (and no other) is a descendant
    /// it left behind. Each is killed, re-verified by start time just before the signal. The cookie leaves the lease
    /// once nothing carries it. Returns how many were signalled.
    /// </summary>
    public int KillAgentLeftovers(string cookie)
    {
        lock (_lock)
        {
            var killed = 0;
            foreach (var carrier in AgentCookie.Carriers(_table, cookie).ToList())
            {
                if (_table.GetStartTime(carrier.Pid) == carrier.StartTime && _table.Signal(carrier.Pid, ProcessSignal.Kill))
                {
                    killed++;
                }
            }

            _deadAgents.Add(cookie);
            if (_lease is { } lease && !_released && ForgetSweptAgents())
            {
                Write(lease with { AgentCookies = [.. _agentCookies] });
            }

            return killed;
        }
    }

    /// <summary>
    /// The host is stopping for good. The lease goes when nothing carries any of its cookies; otherwise it stays (with
    /// only the cookies still carried), and once this host is gone the next sweep finishes them. True when it stays.
    /// </summary>
    public bool Release()
    {
        lock (_lock)
        {
            if (_lease is not { } lease || _released)
            {
                return false;
            }

            _released = true;
            _deadAgents.UnionWith(_agentCookies);
            ForgetSweptAgents();
            if (lease.Cookies.Any(c => AgentCookie.AnyCarrier(_table, c)))
            {
                Write(lease with { AgentCookies = [.. _agentCookies] }, evenReleased: true);
                return true;
            }

            try
            {
                _registry.Delete(lease);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _onProblem(_registry.PathOf(lease), ex.Message);
            }

            return false;
        }
    }

    private Lease? EnsureLease()
    {
        if (_lease is null && !_unavailable)
        {
            _lease = Lease.ForCurrentProcess(_table, _time);
            _unavailable = _lease is null;
            if (_lease is { } created)
            {
                Write(created);
            }
        }

        return _lease;
    }

    /// <summary>Drops the cookies of dead agents that nothing carries any more; true when one went.</summary>
    private bool ForgetSweptAgents() =>
        _agentCookies.RemoveAll(c => _deadAgents.Contains(c) && !AgentCookie.AnyCarrier(_table, c)) > 0;

    private void Write(Lease lease, bool evenReleased = false)
    {
        if (_released && !evenReleased)
        {
            return;
        }

        _lease = lease with { WrittenAt = _time.GetUtcNow() };
        try
        {
            _registry.Write(_lease);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process still starts with its cookie; only a sweep after this host's death will miss it.
            _onProblem(_registry.PathOf(_lease), ex.Message);
        }
    }
}
