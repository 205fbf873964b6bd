using ContainmentLab.Bridge;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// A minimal ACP agent in POSIX sh, for death-watch tests the fake agent cannot play: its descendants get their own
/// pipes, and this one's must inherit the agent's stdout and stderr. It answers <c>initialize</c> and
/// <c>session/new</c> (ids <c>sess-1</c>, <c>sess-2</c>, …); on <c>session/prompt</c> it starts <c>sleep 300</c> in
/// the background (inheriting stdio and the environment, so the bridge's cookie too), writes that pid to a file, and then
/// does what its mode says:
/// <list type="bullet">
/// <item><c>die</c>: writes one unknown notification (<c>containmentlab/last-words</c>) and a line to stderr, exits 3;</item>
/// <item><c>answer-then-die</c>: answers the prompt <c>end_turn</c> and exits 3 at once;</item>
/// <item><c>flood-then-die N</c>: writes N unknown notifications (<c>containmentlab/line-I</c>) and exits 3;</item>
/// <item><c>descendant-floods</c>: the background child is a loop that writes unknown notifications for ever; exits 3.</item>
/// </list>
/// </summary>
internal sealed class ShellAgent : IDisposable
{
    private const string Script = """
        #!/bin/sh
        mode=$1
        pidfile=$2
        count=$3
        sessions=0
        while IFS= read -r line; do
          id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p')
          case $line in
            *'"method":"initialize"'*)
              printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":1,"agentCapabilities":{},"authMethods":[]}}\n' "$id" ;;
            *'"method":"session/new"'*)
              sessions=$((sessions + 1))
              printf '{"jsonrpc":"2.0","id":%s,"result":{"sessionId":"sess-%s"}}\n' "$id" "$sessions" ;;
            *'"method":"session/prompt"'*)
              if [ "$mode" = descendant-floods ]; then
                (while :; do printf '{"jsonrpc":"2.0","method":"containmentlab/descendant","params":{}}\n'; done) &
              else
                sleep 300 &
              fi
              echo $! > "$pidfile"
              case $mode in
                die)
                  printf '{"jsonrpc":"2.0","method":"containmentlab/last-words","params":{}}\n'
                  echo "shell agent: exiting 3 with a child holding stdout" >&2
                  exit 3 ;;
                answer-then-die)
                  printf '{"jsonrpc":"2.0","id":%s,"result":{"stopReason":"end_turn"}}\n' "$id"
                  exit 3 ;;
                flood-then-die)
                  i=0
                  while [ $i -lt "$count" ]; do
                    printf '{"jsonrpc":"2.0","method":"containmentlab/line-%s","params":{}}\n' $i
                    i=$((i + 1))
                  done
                  exit 3 ;;
                *)
                  exit 3 ;;
              esac ;;
          esac
        done
        """;

    private readonly string _scriptPath;

    public ShellAgent(string mode, int count = 0)
    {
        _scriptPath = Path.Combine(Path.GetTempPath(), $"cl-shell-agent-{Guid.NewGuid():N}.sh");
        PidFile = _scriptPath + ".child-pid";
        File.WriteAllText(_scriptPath, Script.ReplaceLineEndings("\n") + "\n");
        Command = new AgentCommand("/bin/sh", [_scriptPath, mode, PidFile, count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
    }

    public AgentCommand Command { get; }

    /// <summary>Where the agent writes the pid of the child that inherited its stdio.</summary>
    public string PidFile { get; }

    /// <summary>The child's pid, once the agent wrote it (null before).</summary>
    public int? ChildPid => File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), out var pid) ? pid : null;

    public void Dispose()
    {
        File.Delete(_scriptPath);
        File.Delete(PidFile);
    }
}
