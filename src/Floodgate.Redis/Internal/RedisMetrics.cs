using System.Diagnostics.Metrics;

namespace Floodgate.Redis.Internal;

/// <summary>The Redis instruments of the <c>Floodgate</c> meter, tagged with the policy.</summary>
internal sealed class RedisMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?> _policy;
    private readonly Counter<long> _roundTrips;
    private readonly Histogram<double> _scriptDuration;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _breakerChanges;
    private readonly Counter<long> _localHits;
    private readonly Counter<long> _scriptLoads;

    public RedisMetrics(string policy, IMeterFactory? factory)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create("Floodgate") ?? new Meter("Floodgate");
        _policy = new("floodgate.policy", policy);
        _roundTrips = _meter.CreateCounter<long>("floodgate.redis.round_trips", "{round_trip}", "Scripts sent to Redis for checks.");
        _scriptDuration = _meter.CreateHistogram<double>("floodgate.redis.script.duration", "ms", "Time from sending a check's script to its answer.");
        _fallbacks = _meter.CreateCounter<long>("floodgate.redis.fallbacks", "{check}", "Checks decided by the outage policy because Redis was unavailable.");
        _breakerChanges = _meter.CreateCounter<long>("floodgate.redis.breaker.changes", "{change}", "Circuit breaker state changes.");
        _localHits = _meter.CreateCounter<long>("floodgate.redis.local_hits", "{check}", "Checks of banned clients answered from the local table without a round trip.");
        _scriptLoads = _meter.CreateCounter<long>("floodgate.redis.script.loads", "{load}", "Scripts sent in full after the server answered NOSCRIPT.");
    }

    public void RoundTrip(double milliseconds)
    {
        _roundTrips.Add(1, _policy);
        _scriptDuration.Record(milliseconds, _policy);
    }

    public void Fallback(RedisOutagePolicy policy) => _fallbacks.Add(1, _policy, new("floodgate.outage_policy", policy.ToString()));

    public void BreakerChanged(bool open) => _breakerChanges.Add(1, _policy, new("floodgate.breaker.state", open ? "open" : "closed"));

    public void LocalHit() => _localHits.Add(1, _policy);

    public void ScriptLoaded() => _scriptLoads.Add(1, _policy);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
