using ContainmentLab.Sweep;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Sweep;

/// <summary>The host's lease over an in-memory process table: which cookies it names, and whose carriers a leftover kill reaches.</summary>
[TestFixture]
[Category("G7")]
public sealed class HostLeaseTests
{
    private string _dir = null!;
    private LeaseRegistry _registry = null!;
    private FakeProcessTable _table = null!;
    private List<(string Path, string Reason)> _problems = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("cl-host-lease-").FullName;
        _registry = new LeaseRegistry(_dir);
        _table = new FakeProcessTable { CurrentProcessId = 100 };
        _table.Add(100, 10);
        _problems = [];
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private HostLease Create() => new(_registry, _table, new FakeTimeProvider(), (path, reason) => _problems.Add((path, reason)));

    private Lease Written() => _registry.ReadAll().Leases.Single();

    [Test]
    public void HostCookie_WritesTheLeaseFirst()
    {
        var cookie = Create().HostCookie();

        Assert.That(Written().Cookie, Is.EqualTo(cookie));
        Assert.That(Written().HostPid, Is.EqualTo(100));
        Assert.That(Written().AgentCookies, Is.Empty);
    }

    [Test]
    public void BeginAgent_EachIncarnationGetsItsOwnCookie_AllNamedByTheLease()
    {
        var lease = Create();
        var host = lease.HostCookie();

        var first = lease.BeginAgent("agent");
        var second = lease.BeginAgent("agent");

        Assert.That(new[] { host, first, second }, Is.Unique);
        Assert.That(Written().AgentCookies, Is.EqualTo(new[] { first, second }), "the first agent's clean-up has not run: its cookie stays");
        Assert.That(Written().Cookies, Is.EqualTo(new[] { host, first, second }));
    }

    [Test]
    public void KillAgentLeftovers_KillsOnlyThatAgentsCarriers_AndTheCookieLeavesTheLeaseOnceNothingCarriesIt()
    {
        var lease = Create();
        var host = lease.HostCookie()!;
        var first = lease.BeginAgent("agent")!;
        var second = lease.BeginAgent("agent")!;
        _table.Add(200, 20, first).Add(201, 21, first).Add(300, 30, second).Add(400, 40, host).Add(500, 50);

        var killed = lease.KillAgentLeftovers(first);

        Assert.That(killed, Is.EqualTo(2));
        Assert.That(_table.SignalledPids(ProcessSignal.Kill), Is.EquivalentTo(new[] { 200, 201 }));
        Assert.That(_table.Exists(300) && _table.Exists(400) && _table.Exists(500), Is.True, "the next agent, the host's terminal and a stranger live");
        Assert.That(Written().AgentCookies, Is.EqualTo(new[] { second }));
    }

    [Test]
    public void KillAgentLeftovers_ACarrierSurvives_TheCookieStaysInTheLease()
    {
        var lease = Create();
        var first = lease.BeginAgent("agent")!;
        _table.Add(200, 20, first);
        _table.AfterSignal = (pid, _) => _table.Add(pid, 20, first); // stuck: SIGKILL does not land

        lease.KillAgentLeftovers(first);

        Assert.That(Written().AgentCookies, Is.EqualTo(new[] { first }), "a later sweep still finds it");
    }

    [Test]
    public void Release_NothingCarriesACookie_DeletesTheLease()
    {
        var lease = Create();
        lease.BeginAgent("agent");

        var kept = lease.Release();

        Assert.That(kept, Is.False);
        Assert.That(_registry.ReadAll().Leases, Is.Empty);
    }

    [Test]
    public void Release_ATerminalStillCarriesTheHostCookie_KeepsTheLease()
    {
        var lease = Create();
        var host = lease.HostCookie()!;
        var agent = lease.BeginAgent("agent")!;
        _table.Add(400, 40, host);

        var kept = lease.Release();

        Assert.That(kept, Is.True);
        Assert.That(Written().Cookie, Is.EqualTo(host));
        Assert.That(Written().AgentCookies, Does.Not.Contain(agent), "nothing carries the agent's cookie: it goes");
    }

    [Test]
    public void Write_Fails_ReportsTheProblemAndStillGivesTheCookie()
    {
        File.WriteAllText(Path.Combine(_dir, "blocker"), "");
        var registry = new LeaseRegistry(Path.Combine(_dir, "blocker", "leases")); // a file where a directory must be
        var lease = new HostLease(registry, _table, new FakeTimeProvider(), (path, reason) => _problems.Add((path, reason)));

        var cookie = lease.HostCookie();

        Assert.That(cookie, Is.Not.Null, "the process still starts marked; only a sweep after the host's death misses it");
        Assert.That(_problems, Has.Count.EqualTo(1));
    }
}
