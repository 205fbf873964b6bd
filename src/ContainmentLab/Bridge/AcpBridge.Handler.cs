using System.Text.Json;
using ContainmentLab.Events;
using ContainmentLab.Protocol;

namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    /// <summary>Routes what the agent sends: requests to the dispatcher, updates to their session, the rest is a violation.</summary>
    private sealed class ConnectionHandler(AcpBridge bridge, Agent agent) : IConnectionHandler
    {
        // The dispatcher queues a permission answer itself, under the session gate's lock (G1: the answer and an
        // interrupt's session/cancel reach the wire in the order of the decision and the gate's close). One delegate per
        // connection, made on first use: the connection is created after its handler.
        private Func<byte[], bool>? _send;

        /// <summary>
        /// The agent stopped reading: close every gate (nothing more dispatches), then kill it; its death completes every
        /// pending await. Runs on the stall timer, never on the writer (which is the one stuck).
        /// </summary>
        public void OnWedged(TimeSpan stalled, int queuedLines)
        {
            bridge.Events.Publish(new AgentWedged(bridge._time.GetUtcNow(), stalled, queuedLines));
            agent.MarkExiting($"wedged: a write to its stdin made no progress for {stalled.TotalSeconds:0.###} s");
            foreach (var session in agent.Sessions.Values)
            {
                bridge.InterruptSession(session, "agent wedged");
            }

            agent.Transport.Kill();
        }

        public ValueTask<byte[]> OnRequestAsync(IncomingMessage request)
        {
            if (agent.Dispatcher.Handles(request.Method!))
            {
                return agent.Dispatcher.HandleAsync(request, _send ??= agent.Connection.Enqueue);
            }

            OnViolation(request.LineNumber, $"unknown method '{request.Method}'");
            return ValueTask.FromResult(MessageWriter.Error(request.Id, JsonRpcErrorCodes.MethodNotFound, $"method not found: '{request.Method}'"));
        }

        public void OnNotification(IncomingMessage notification)
        {
            switch (notification.Method)
            {
                case AcpMethods.SessionUpdate:
                    OnSessionUpdate(notification);
                    break;
                case AcpMethods.CancelRequest:
                    // The agent withdraws one of its requests; we answer it anyway when it ends (ACP allows either).
                    break;
                case { } method when method.StartsWith('_'):
                    // Unknown extension notifications are ignored (ACP).
                    break;
                default:
                    OnViolation(notification.LineNumber, $"unknown notification '{notification.Method}'");
                    break;
            }
        }

        /// <summary>
        /// A prompt's answer closes its session's turn window here, in wire order: a tool request or update written after
        /// the answer finds no running turn, however soon the turn's own completion runs.
        /// </summary>
        public void OnResponse(IncomingMessage response)
        {
            // Request ids repeat across agents (each numbers from 0): only this agent's sessions can own the answer.
            foreach (var session in agent.Sessions.Values)
            {
                lock (session.Lock)
                {
                    if (session.Turn is { } turn && turn.PromptId == response.Id)
                    {
                        session.Dispatch.EndTurn();
                        return;
                    }
                }
            }
        }

        public void OnViolation(long lineNumber, string reason) =>
            bridge.Events.Publish(new ProtocolViolation(bridge._time.GetUtcNow(), null, lineNumber, reason));

        private void OnSessionUpdate(IncomingMessage notification)
        {
            SessionNotification update;
            try
            {
                update = notification.ParamsAs(AcpJsonContext.Default.SessionNotification);
            }
            catch (JsonException ex)
            {
                OnViolation(notification.LineNumber, "invalid session/update: " + ex.Message);
                return;
            }

            if (!agent.Sessions.TryGetValue(update.SessionId, out var session) || !bridge._sessions.ContainsKey(session.Id))
            {
                // An id of this agent's that was retired, or of an earlier agent's (the handle is the wire id then): dead either way.
                var what = session is not null || bridge._retired.ContainsKey(update.SessionId) ? "a session that ended with its agent" : "a session that does not exist";
                bridge.Events.Publish(new ProtocolViolation(bridge._time.GetUtcNow(), update.SessionId, notification.LineNumber, $"session/update for {what}: '{update.SessionId}'"));
                return;
            }

            lock (session.Lock)
            {
                if (session.Turn is null || !session.Dispatch.AcceptsRequests)
                {
                    // ACP: updates come before the prompt's answer. One after it belongs to a turn that is over (or to an
                    // idle session): reported and dropped, never taken for the next turn's.
                    bridge.Events.Publish(new ProtocolViolation(bridge._time.GetUtcNow(), session.Id, notification.LineNumber, $"session/update for session '{session.Id}', which has no running turn; dropped"));
                    return;
                }

                TrackAgentTool(session, update.Update);
            }
        }

        /// <summary>
        /// The agent's own tools: watched from their first report to completed/failed, activity = their updates. Once the
        /// session's gate is closed, tools reported for the first time are not watched; known ones still count and end.
        /// </summary>
        private void TrackAgentTool(Session session, SessionUpdateBody update)
        {
            if (update.SessionUpdate is not (SessionUpdateKinds.ToolCall or SessionUpdateKinds.ToolCallUpdate) || update.ToolCallId is not { } id)
            {
                return;
            }

            var finished = update.Status is "completed" or "failed";
            if (session.AgentTools.TryGetValue(id, out var watch))
            {
                watch.ReportActivity();
                if (finished)
                {
                    watch.Dispose();
                    session.AgentTools.Remove(id);
                }
            }
            else if (!finished && !session.Dispatch.Gate.IsClosed)
            {
                // A session already stopped starts no new watch: its timer could only fire on a session that is over
                // (hole 8). The turn's end, ack or escalation, is bounded by AckTimeout.
                session.AgentTools[id] = bridge._watchdog.Start(session.Id, id, update.Title ?? update.Kind ?? "agent tool", cancelTool: null);
            }
        }
    }
}
