using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>
/// A minimal ACP client for tests: sends initialize / session/new / session/prompt / session/cancel, answers the agent's
/// requests through <see cref="Handler"/> (success, error, or hold for the test to answer later), and records every
/// line the agent sent. Lines are handled strictly in wire order, which makes <see cref="PingAsync"/> a barrier.
/// </summary>
internal sealed class AcpTestClient : IAsyncDisposable
{
    public const string PingMethod = "_test/ping";

    private readonly Stream _toAgent;
    private readonly Stream _fromAgent;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<IncomingMessage>> _pending = new();
    private readonly Lock _gate = new();
    private readonly List<IncomingMessage> _requests = [];
    private readonly List<IncomingMessage> _notifications = [];
    private readonly List<IncomingMessage> _held = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> _requestWaiters = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> _notificationWaiters = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _readLoop;
    private long _lastId = -1;
    private int _outstandingTools;
    private int _maxOutstandingTools;

    public AcpTestClient(Stream toAgent, Stream fromAgent)
    {
        _toAgent = toAgent;
        _fromAgent = fromAgent;
    }

    /// <summary>Decides the answer to each agent request; by default every request succeeds (permission: allow).</summary>
    public Func<IncomingMessage, AgentReply> Handler { get; set; } = DefaultReply;

    /// <summary>Agent requests in the order they arrived.</summary>
    public IReadOnlyList<IncomingMessage> Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests.ToArray();
            }
        }
    }

    /// <summary>Tool requests (everything but permission requests) in arrival order.</summary>
    public IReadOnlyList<IncomingMessage> ToolRequests => Requests.Where(r => r.Method != AcpMethods.RequestPermission).ToArray();

    public IReadOnlyList<IncomingMessage> Notifications
    {
        get
        {
            lock (_gate)
            {
                return _notifications.ToArray();
            }
        }
    }

    /// <summary>Requests the handler held, oldest first, not yet answered.</summary>
    public IReadOnlyList<IncomingMessage> Held
    {
        get
        {
            lock (_gate)
            {
                return _held.ToArray();
            }
        }
    }

    /// <summary>The most tool requests this client had received and not answered at once.</summary>
    public int MaxOutstandingTools
    {
        get
        {
            lock (_gate)
            {
                return _maxOutstandingTools;
            }
        }
    }

    public static AgentReply DefaultReply(IncomingMessage request) => request.Method switch
    {
        AcpMethods.RequestPermission => AgentReply.Success("""{"outcome":{"outcome":"selected","optionId":"allow"}}"""),
        AcpMethods.ReadTextFile => AgentReply.Success("""{"content":"hello"}"""),
        _ => AgentReply.Success("{}"),
    };

    public void Start() => _readLoop = Task.Run(() => ReadLoopAsync(_stop.Token));

    public async Task<InitializeResponse> InitializeAsync(CancellationToken cancellationToken)
    {
        var request = new InitializeRequest(AcpMethods.ProtocolVersion, new ClientCapabilities(new FileSystemCapability(true, true), false), new Implementation("acp-test-client"));
        var response = await RequestAsync(AcpMethods.Initialize, request, AcpJsonContext.Default.InitializeRequest, cancellationToken);
        return response.ResultAs(AcpJsonContext.Default.InitializeResponse);
    }

    public async Task<string> NewSessionAsync(string cwd, CancellationToken cancellationToken)
    {
        var response = await RequestAsync(AcpMethods.SessionNew, new NewSessionRequest(cwd, []), AcpJsonContext.Default.NewSessionRequest, cancellationToken);
        return response.ResultAs(AcpJsonContext.Default.NewSessionResponse).SessionId;
    }

    /// <summary>Sends a prompt; the task completes with the raw response (a stop reason or an error) when the turn ends.</summary>
    public Task<IncomingMessage> PromptAsync(string sessionId, CancellationToken cancellationToken, string text = "go") =>
        RequestAsync(AcpMethods.SessionPrompt, new PromptRequest(sessionId, [ContentBlock.FromText(text)]), AcpJsonContext.Default.PromptRequest, cancellationToken);

    public Task CancelAsync(string sessionId, CancellationToken cancellationToken) =>
        WriteAsync(MessageWriter.Notification(AcpMethods.SessionCancel, new CancelNotification(sessionId), AcpJsonContext.Default.CancelNotification), cancellationToken);

    /// <summary>
    /// A request the agent answers -32601 at once. The agent reads lines in order and writes in order, and this client
    /// handles lines in order: when the answer is here, the agent has handled everything sent before the ping, and
    /// this client has handled every line the agent wrote before answering it.
    /// </summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        var response = await RequestAsync(PingMethod, default(JsonElement), AcpJsonContext.Default.JsonElement, cancellationToken);
        Assert.That(response.Error?.Code, Is.EqualTo(JsonRpcErrorCodes.MethodNotFound));
    }

    public async Task<IncomingMessage> RequestAsync<T>(string method, T parameters, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _lastId);
        var completion = new TaskCompletionSource<IncomingMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        var line = typeInfo.Type == typeof(JsonElement) && parameters is JsonElement { ValueKind: JsonValueKind.Undefined }
            ? System.Text.Encoding.UTF8.GetBytes($"{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\"}}\n")
            : MessageWriter.Request(RpcId.FromNumber(id), method, parameters, typeInfo);
        await WriteAsync(line, cancellationToken);
        return await completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Waits until at least <paramref name="count"/> agent requests have arrived.</summary>
    public Task WaitForRequestsAsync(int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_requests.Count >= count)
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _requestWaiters.Add((count, signal));
            return signal.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> notifications have arrived.</summary>
    public Task WaitForNotificationsAsync(int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_notifications.Count >= count)
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _notificationWaiters.Add((count, signal));
            return signal.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Answers a held request.</summary>
    public async Task AnswerAsync(IncomingMessage request, AgentReply reply, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _held.Remove(request);
        }

        await ReplyAsync(request, reply, cancellationToken);
    }

    /// <summary>Answers every held request, oldest first.</summary>
    public async Task AnswerHeldAsync(AgentReply reply, CancellationToken cancellationToken)
    {
        foreach (var request in Held)
        {
            await AnswerAsync(request, reply, cancellationToken);
        }
    }

    public async Task WriteRawAsync(string line, CancellationToken cancellationToken) =>
        await WriteAsync(System.Text.Encoding.UTF8.GetBytes(line + "\n"), cancellationToken);

    /// <summary>Closes the agent's input: the agent sees end of stream.</summary>
    public async Task CloseInputAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            await _toAgent.DisposeAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Completes when the agent's output ends.</summary>
    public Task Completion => _readLoop ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_readLoop is not null)
        {
            try
            {
                await _readLoop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _toAgent.DisposeAsync();
        _stop.Dispose();
        _writeLock.Dispose();
    }

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var reader = new LineReader(_fromAgent);
        var parser = new MessageParser();
        while (true)
        {
            var read = await reader.ReadLineAsync(cancellationToken);
            if (read.Status == LineReadStatus.EndOfStream)
            {
                foreach (var pending in _pending.Values)
                {
                    pending.TrySetException(new EndOfStreamException("the agent's output ended"));
                }

                return;
            }

            var outcome = read.Status == LineReadStatus.Line ? parser.Parse(read.Line, read.LineNumber) : default;
            if (outcome.Message is not { } message)
            {
                // Not an assert: this runs off the test thread. Fail every waiter instead; the test sees the exception.
                var error = new InvalidDataException($"the agent wrote a bad line {read.LineNumber}: {outcome.Error ?? "oversize"}");
                foreach (var pending in _pending.Values)
                {
                    pending.TrySetException(error);
                }

                throw error;
            }

            switch (message.Kind)
            {
                case MessageKind.Response:
                    if (message.Id is { IsString: false } id && _pending.TryRemove(id.Number, out var completion))
                    {
                        completion.TrySetResult(message);
                    }

                    break;
                case MessageKind.Notification:
                    lock (_gate)
                    {
                        _notifications.Add(message);
                        foreach (var waiter in _notificationWaiters.Where(w => _notifications.Count >= w.Count).ToArray())
                        {
                            _notificationWaiters.Remove(waiter);
                            waiter.Signal.TrySetResult();
                        }
                    }

                    break;
                case MessageKind.Request:
                    await OnRequestAsync(message, cancellationToken);
                    break;
            }
        }
    }

    private async Task OnRequestAsync(IncomingMessage request, CancellationToken cancellationToken)
    {
        var reply = Handler(request);
        lock (_gate)
        {
            _requests.Add(request);
            if (request.Method != AcpMethods.RequestPermission)
            {
                _outstandingTools++;
                _maxOutstandingTools = Math.Max(_maxOutstandingTools, _outstandingTools);
            }

            if (reply is AgentReply.HoldReply)
            {
                _held.Add(request);
            }

            foreach (var waiter in _requestWaiters.Where(w => _requests.Count >= w.Count).ToArray())
            {
                _requestWaiters.Remove(waiter);
                waiter.Signal.TrySetResult();
            }
        }

        if (reply is not AgentReply.HoldReply)
        {
            await ReplyAsync(request, reply, cancellationToken);
        }
    }

    private async Task ReplyAsync(IncomingMessage request, AgentReply reply, CancellationToken cancellationToken)
    {
        var id = request.Id!.Value;
        var line = reply switch
        {
            AgentReply.SuccessReply success => MessageWriter.Result(id, success.Result, AcpJsonContext.Default.JsonElement),
            AgentReply.ErrorReply error => MessageWriter.Error(id, error.Code, error.Message),
            _ => throw new InvalidOperationException("cannot answer with Hold"),
        };
        if (request.Method != AcpMethods.RequestPermission)
        {
            lock (_gate)
            {
                _outstandingTools--;
            }
        }

        await WriteAsync(line, cancellationToken);
    }

    private async Task WriteAsync(byte[] line, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _toAgent.WriteAsync(line, cancellationToken);
            await _toAgent.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
