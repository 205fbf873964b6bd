using Microsoft.Extensions.Logging;

namespace ContainmentLab.Events;

/// <summary>
/// Publishes containment events to subscribers, synchronously and in order. A subscriber's exception is logged and
/// swallowed: a broken observer must never break containment. Subscribers must be quick (they run on the bridge's paths).
/// </summary>
public sealed class EventHub
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private Action<ContainmentEvent>[] _subscribers = [];

    public EventHub(ILogger? logger = null)
    {
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    public IDisposable Subscribe(Action<ContainmentEvent> subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, subscriber];
        }

        return new Subscription(this, subscriber);
    }

    public void Publish(ContainmentEvent containmentEvent)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            try
            {
                subscriber(containmentEvent);
            }
#pragma warning disable CA1031 // A subscriber's failure must not escape into the bridge.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.LogWarning(ex, "An event subscriber threw on {Event}", containmentEvent.Name);
            }
        }
    }

    private void Unsubscribe(Action<ContainmentEvent> subscriber)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers.Where(s => s != subscriber)];
        }
    }

    private sealed class Subscription(EventHub hub, Action<ContainmentEvent> subscriber) : IDisposable
    {
        public void Dispose() => hub.Unsubscribe(subscriber);
    }
}
