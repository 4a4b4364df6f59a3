using System.Diagnostics.Metrics;

namespace Floodgate.Redis.Internal;

/// <summary>The Redis instruments of the <c>Floodgate</c> meter, tagged with the policy.</summary>
internal sealed class RedisMetrics : IDisposable
{
    private readonly Instruments _instruments;
    private readonly KeyValuePair<string, object?> _policy;

    public RedisMetrics(string policy, IMeterFactory? factory)
    {
        // Created once per meter, shared by every policy of the app (duplicate instruments would be dropped by exporters).
        _instruments = FloodgateMeter.Instruments(factory, static meter => new Instruments(meter));
        _policy = new("floodgate.policy", policy);
    }

    public void RoundTrip(double milliseconds)
    {
        _instruments.RoundTrips.Add(1, _policy);
        _instruments.ScriptDuration.Record(milliseconds, _policy);
    }

    public void Fallback(RedisOutagePolicy policy) => _instruments.Fallbacks.Add(1, _policy, new("floodgate.outage_policy", policy.ToString()));

    public void BreakerChanged(bool open) => _instruments.BreakerChanges.Add(1, _policy, new("floodgate.breaker.state", open ? "open" : "closed"));

    public void LocalHit() => _instruments.LocalHits.Add(1, _policy);

    public void LocalDecision() => _instruments.LocalDecisions.Add(1, _policy);

    public void Exchanged(int clients, double milliseconds)
    {
        _instruments.ExchangedClients.Add(clients, _policy);
        _instruments.ExchangeDuration.Record(milliseconds, _policy);
    }

    public void ScriptLoaded() => _instruments.ScriptLoads.Add(1, _policy);

    public void Dispose()
    {
        // The meter belongs to the factory (or the process); nothing of this policy's to release.
    }

    private sealed class Instruments(Meter meter)
    {
        public Counter<long> RoundTrips { get; } = meter.CreateCounter<long>("floodgate.redis.round_trips", "{round_trip}", "Scripts sent to Redis for checks.");

        public Histogram<double> ScriptDuration { get; } = meter.CreateHistogram<double>("floodgate.redis.script.duration", "ms", "Time from sending a check's script to its answer.");

        public Counter<long> Fallbacks { get; } = meter.CreateCounter<long>("floodgate.redis.fallbacks", "{check}", "Checks decided by the outage policy because Redis was unavailable.");

        public Counter<long> BreakerChanges { get; } = meter.CreateCounter<long>("floodgate.redis.breaker.changes", "{change}", "Circuit breaker state changes.");

        public Counter<long> LocalHits { get; } = meter.CreateCounter<long>("floodgate.redis.local_hits", "{check}", "Checks of banned clients answered from the local table without a round trip.");

        public Counter<long> LocalDecisions { get; } = meter.CreateCounter<long>("floodgate.redis.local_decisions", "{check}", "Checks decided in process under SyncMode Batched, without a round trip.");

        public Counter<long> ExchangedClients { get; } = meter.CreateCounter<long>("floodgate.redis.exchanged_clients", "{client}", "Clients whose counts a batched exchange sent to Redis.");

        public Histogram<double> ExchangeDuration { get; } = meter.CreateHistogram<double>("floodgate.redis.exchange.duration", "ms", "Time of one batched exchange, all its batches.");

        public Counter<long> ScriptLoads { get; } = meter.CreateCounter<long>("floodgate.redis.script.loads", "{load}", "Scripts sent in full after the server answered NOSCRIPT.");
    }
}
