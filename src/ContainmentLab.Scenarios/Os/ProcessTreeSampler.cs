namespace ContainmentLab.Scenarios.Os;

/// <summary>
/// Samples the whole process tree of what a run started, from <c>/proc</c> and nothing else (no cookie, no word of the
/// bridge's beyond which pid it started): each root, then every child of every process already seen, every
/// <see cref="Interval"/>, on a thread of its own. A process stays in the tree once seen (identity = pid + start time),
/// so one that called setsid or was reparented to init after its parent died is still followed. What it cannot see
/// without help is a process whose parent both forked it and died between two samples; under a child subreaper (the
/// <c>kill_host</c> runs' <see cref="ChildReaper"/>) such orphans are reparented into the tree and nothing escapes.
/// Agents are also watched with a pidfd (<see cref="PidExitWatch"/>) for their exact exit time.
/// </summary>
internal sealed class ProcessTreeSampler : IDisposable
{
    private readonly Func<IEnumerable<(int Pid, ProcessRole Role)>> _roots;
    private readonly Func<TimeSpan> _clock;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly List<Entry> _all = [];
    private readonly Dictionary<int, Entry> _live = [];
    private readonly Dictionary<int, ProcessRole> _pendingRoles = [];
    private readonly List<PidExitWatch> _watches = [];
    private readonly ManualResetEventSlim _stop = new();
    private int? _lastPid;
    private bool _rescan = true;
    private readonly Thread _thread;
    private int _disposed;

    /// <param name="roots">The run's roots as the runner knows them now (the bridge's agent pid, or the reaper); asked at every sample.</param>
    /// <param name="clock">The run's clock: seconds since its start, the same one its events are stamped with.</param>
    public ProcessTreeSampler(Func<IEnumerable<(int Pid, ProcessRole Role)>> roots, Func<TimeSpan> clock, TimeProvider time, TimeSpan? interval = null)
    {
        _roots = roots;
        _clock = clock;
        _time = time;
        Interval = interval ?? DefaultInterval;
        _thread = new Thread(Loop) { IsBackground = true, Name = "process tree sampler" };
        _thread.Start();
    }

    /// <summary>10 ms: a fast fork-and-exit outside a subreaper must live at least this long to be caught.</summary>
    public static TimeSpan DefaultInterval { get; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan Interval { get; }

    /// <summary>Names a process once the runner learns what it is (the host's pid from its hello, an agent's from <c>AgentStarted</c>); an agent gets an exit watch.</summary>
    public void Tag(int pid, ProcessRole role)
    {
        lock (_lock)
        {
            if (_all.LastOrDefault(e => e.Pid == pid) is { } entry)
            {
                // Also when it is gone already: an agent that died before its AgentStarted reached the runner is still an agent.
                if (entry.Role != role)
                {
                    entry.Role = role;
                    if (role == ProcessRole.Agent && entry.GoneAt is null)
                    {
                        Watch(entry);
                    }
                }
            }
            else
            {
                _pendingRoles[pid] = role;
            }

            _rescan = true;
        }

        SampleNow();
    }

    /// <summary>Takes a sample now (also done every <see cref="Interval"/>).</summary>
    public void SampleNow()
    {
        lock (_lock)
        {
            if (_disposed != 0)
            {
                return;
            }

            // Read before the tree: a process forked after this read changes it for the next sample.
            var lastPid = ProcFs.LastPid();
            var scanChildren = _rescan || lastPid is null || lastPid != _lastPid;
            _lastPid = lastPid;
            _rescan = false;
            var now = _clock();
            foreach (var (pid, role) in _roots())
            {
                // A root is the runner's own child (the agent the in-process bridge started, or the reaper): a pid the
                // bridge still names after its agent died and the pid was reused is nobody of ours.
                if (!_live.ContainsKey(pid))
                {
                    TryAdd(pid, Environment.ProcessId, role, now);
                }
            }

            var queue = new Queue<Entry>(_live.Values);
            while (queue.TryDequeue(out var entry))
            {
                if (ProcFs.Stat(entry.Pid) is not { Exited: false } stat || stat.StartTime != entry.StartTime)
                {
                    MarkGone(entry, now);
                    continue;
                }

                entry.ParentPid = stat.ParentPid;
                entry.ProcessGroupId = stat.ProcessGroupId;
                entry.SessionId = stat.SessionId;
                entry.LastSeenAlive = now;

                // Read again when it execs (its name changes), and in its first samples (an exec that keeps the name): a
                // forked child shows its parent's command line until it execs.
                if ((entry.CommandLine.Length == 0 || stat.Name != entry.Name || entry.Samples < 5) && ProcFs.CommandLine(entry.Pid) is { Length: > 0 } commandLine)
                {
                    entry.CommandLine = commandLine;
                    entry.Name = stat.Name;
                }

                entry.Samples++;

                if (!scanChildren && !entry.New)
                {
                    continue;
                }

                entry.New = false;
                foreach (var child in ProcFs.Children(entry.Pid))
                {
                    if (_live.TryGetValue(child, out var known) && ProcFs.Stat(child)?.StartTime == known.StartTime)
                    {
                        continue;
                    }

                    if (TryAdd(child, entry.Pid, ProcessRole.Descendant, now) is { } added)
                    {
                        queue.Enqueue(added);
                    }
                }
            }
        }
    }

    /// <summary>Every process seen so far, in the order first seen.</summary>
    public IReadOnlyList<ObservedProcess> Snapshot()
    {
        lock (_lock)
        {
            return [.. _all.Select(e => e.ToRecord())];
        }
    }

    /// <summary>Each agent's death: from its pidfd when it had one, else from the first sample that found it gone.</summary>
    public IReadOnlyList<AgentDeath> AgentDeaths()
    {
        lock (_lock)
        {
            return
            [
                .. _all.Where(e => e.Role == ProcessRole.Agent && (e.ExitedAt ?? e.GoneAt) is not null)
                    .Select(e => e.ExitedAt is { } exited ? new AgentDeath(e.Pid, e.CommandLine, exited, "pidfd") : new AgentDeath(e.Pid, e.CommandLine, e.GoneAt!.Value, "proc"))
                    .OrderBy(d => d.At),
            ];
        }
    }

    /// <summary>
    /// Samples until every process seen (those <paramref name="include"/> keeps) is gone, or <paramref name="bound"/>
    /// passes; returns what is still alive then. A wait for a condition, not a sleep: it ends as soon as the tree is gone.
    /// </summary>
    public async Task<IReadOnlyList<ObservedProcess>> WaitUntilGoneAsync(TimeSpan bound, Func<ObservedProcess, bool> include, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            SampleNow();
            var alive = Snapshot().Where(p => p.GoneAt is null && include(p)).ToList();
            if (alive.Count == 0 || _time.GetElapsedTime(started) >= bound)
            {
                return alive;
            }

            await Task.Delay(Interval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILLs each process that is still the one seen (pid and start time re-checked just before the signal).</summary>
    public static void Kill(IEnumerable<ObservedProcess> processes)
    {
        foreach (var process in processes)
        {
            if (ProcFs.IsAlive(process.Pid, process.StartTime))
            {
                LinuxNative.Kill(process.Pid, LinuxNative.SigKill);
            }
        }
    }

    private Entry? TryAdd(int pid, int? parent, ProcessRole role, TimeSpan now)
    {
        if (ProcFs.Stat(pid) is not { Exited: false } stat || (parent is { } p && stat.ParentPid != p))
        {
            return null; // gone, a zombie, or reparented since the children list was read: the next sample sees where it went
        }

        if (_live.TryGetValue(pid, out var stale))
        {
            MarkGone(stale, now); // the pid was reused: the one we knew has gone
        }

        if (_pendingRoles.Remove(pid, out var tagged))
        {
            role = tagged;
        }

        var entry = new Entry(pid, stat.StartTime, role, stat.ParentPid, now)
        {
            Name = stat.Name,
            ParentPid = stat.ParentPid,
            ProcessGroupId = stat.ProcessGroupId,
            SessionId = stat.SessionId,
            CommandLine = ProcFs.CommandLine(pid) ?? string.Empty,
            LastSeenAlive = now,
        };
        _all.Add(entry);
        _live[pid] = entry;
        if (role == ProcessRole.Agent)
        {
            Watch(entry);
        }

        return entry;
    }

    private void Watch(Entry entry)
    {
        if (PidExitWatch.TryStart(entry.Pid, entry.StartTime, _clock, at =>
        {
            lock (_lock)
            {
                entry.ExitedAt ??= at;
            }
        }) is { } watch)
        {
            _watches.Add(watch);
        }
    }

    private void MarkGone(Entry entry, TimeSpan now)
    {
        entry.GoneAt ??= now;
        if (_live.TryGetValue(entry.Pid, out var live) && ReferenceEquals(live, entry))
        {
            _live.Remove(entry.Pid);
        }
    }

    private void Loop()
    {
        do
        {
            SampleNow();
        }
        while (!_stop.Wait(Interval));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Set();
        _thread.Join();
        lock (_lock)
        {
            foreach (var watch in _watches)
            {
                watch.Dispose();
            }
        }

        _stop.Dispose();
    }

    private sealed class Entry(int pid, long startTime, ProcessRole role, int firstParent, TimeSpan firstSeen)
    {
        public int Pid { get; } = pid;

        public long StartTime { get; } = startTime;

        public ProcessRole Role { get; set; } = role;

        public int FirstParentPid { get; } = firstParent;

        public TimeSpan FirstSeen { get; } = firstSeen;

        public int ParentPid { get; set; }

        public int ProcessGroupId { get; set; }

        public int SessionId { get; set; }

        public string CommandLine { get; set; } = string.Empty;

        /// <summary>The name in <c>stat</c> when <see cref="CommandLine"/> was read: exec changes it.</summary>
        public string Name { get; set; } = string.Empty;

        public int Samples { get; set; }

        /// <summary>Its children were never looked for.</summary>
        public bool New { get; set; } = true;

        public TimeSpan LastSeenAlive { get; set; }

        public TimeSpan? GoneAt { get; set; }

        public TimeSpan? ExitedAt { get; set; }

        public ObservedProcess ToRecord() =>
            new(Pid, StartTime, Role, FirstParentPid, ParentPid, ProcessGroupId, SessionId, CommandLine, FirstSeen, LastSeenAlive, GoneAt, ExitedAt);
    }
}
