using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>The host tools by name: ACP methods (<c>fs/*</c>) and <c>_containmentlab/tool</c> names.</summary>
public sealed class HostToolRegistry : IAsyncDisposable
{
    private readonly Dictionary<string, HostTool> _methods = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostTool> _extension = new(StringComparer.Ordinal);

    public HostToolRegistry Add(HostTool tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        (tool.Name.Contains('/', StringComparison.Ordinal) ? _methods : _extension)[tool.Name] = tool;
        return this;
    }

    /// <summary>A host tool that answers an ACP method (e.g. <c>fs/read_text_file</c>).</summary>
    public bool TryGetMethod(string method, out HostTool tool) => _methods.TryGetValue(method, out tool!);

    /// <summary>A tool reached through <see cref="AcpMethods.ContainmentTool"/>.</summary>
    public bool TryGetExtension(string name, out HostTool tool) => _extension.TryGetValue(name, out tool!);

    public bool HandlesMethod(string method) => _methods.ContainsKey(method);

    /// <summary>Disposes the tools that own resources (terminals: their process groups are killed).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var tool in _methods.Values.Concat(_extension.Values).Distinct())
        {
            if (tool is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Every terminal started from now on carries <paramref name="hostCookie"/>'s value (when not null) in its environment,
    /// so the orphan sweep finds it and all it spawned after the host died (G7). The bridge calls this with its lease's cookie.
    /// </summary>
    internal void MarkHostProcesses(Func<string?> hostCookie)
    {
        foreach (var tool in _methods.Values.Concat(_extension.Values).OfType<TerminalTool>())
        {
            tool.Terminals.HostCookie = hostCookie;
        }
    }

    /// <summary>The standard set: fs tools and terminals in the sandbox, desktop tools on the virtual desktop, http.request.</summary>
    public static HostToolRegistry CreateDefault(Sandbox sandbox, VirtualDesktop desktop, HttpClient httpClient, IReadOnlySet<string>? allowedHttpHosts = null, FileSystemToolOptions? fileSystem = null)
    {
        var registry = new HostToolRegistry()
            .Add(new ReadTextFileTool(sandbox, fileSystem))
            .Add(new WriteTextFileTool(sandbox))
            .Add(new DesktopTool(desktop, DesktopTool.Press))
            .Add(new DesktopTool(desktop, DesktopTool.SetValue))
            .Add(new DesktopTool(desktop, DesktopTool.Key))
            .Add(new HttpRequestTool(httpClient, allowedHttpHosts));
        return registry.AddTerminals(new Terminals(sandbox));
    }

    /// <summary>Adds the five <c>terminal/*</c> tools over <paramref name="terminals"/> (disposed with this registry).</summary>
    public HostToolRegistry AddTerminals(Terminals terminals)
    {
        foreach (var tool in TerminalTool.All(terminals))
        {
            Add(tool);
        }

        return this;
    }
}
