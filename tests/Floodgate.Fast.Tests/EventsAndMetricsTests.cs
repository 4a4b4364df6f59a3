using System.Diagnostics.Metrics;
using System.Net;

namespace Floodgate.Tests;

public sealed class EventsAndMetricsTests
{
    [Fact]
    public void BlockPunishBlacklistAndLiftRaiseEvents()
    {
        using var h = new Harness(new()
        {
            PermitLimit = 1,
            Window = TimeSpan.FromSeconds(10),
            BlockDuration = TimeSpan.FromSeconds(10),
            BlockLimit = 1,
            BlockExceedDuration = TimeSpan.FromMinutes(5),
        });
        var events = new List<FloodgateEventArgs>();
        object? sender = null;
        h.Limiter.ClientStateChanged += (s, e) => { sender = s; events.Add(e); };

        const string client = "192.0.2.8";
        h.Advance(h.CheckUntilDenied(client).RetryAfter);
        h.CheckUntilDenied(client);
        h.Limiter.Unblock(IPAddress.Parse(client));
        h.Limiter.Blacklist(IPAddress.Parse(client));
        h.Limiter.Unblacklist(IPAddress.Parse(client));

        Assert.Same(h.Limiter, sender);
        Assert.Equal(
            [FloodgateEventKind.Blocked, FloodgateEventKind.Punished, FloodgateEventKind.Unblocked, FloodgateEventKind.Blacklisted, FloodgateEventKind.Unblacklisted],
            events.Select(e => e.Kind));
        Assert.All(events, e => Assert.Equal(IpKey.Create(IPAddress.Parse(client)), e.Client));
        Assert.Equal(TimeSpan.FromSeconds(10), events[0].Duration);
        Assert.Equal(Harness.Start + TimeSpan.FromSeconds(10), events[0].ExpiresAt);
        Assert.Equal(1, events[0].BlockCount);
        Assert.Equal(TimeSpan.FromMinutes(5), events[1].Duration);
        Assert.Equal(2, events[1].BlockCount);
        Assert.Null(events[3].ExpiresAt);
    }

    [Fact]
    public void ForeverPunishmentRaisesBlacklisted()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), BlockLimit = 0 });
        var kinds = new List<FloodgateEventKind>();
        h.Limiter.ClientStateChanged += (_, e) => kinds.Add(e.Kind);
        h.CheckUntilDenied("192.0.2.9");
        Assert.Equal([FloodgateEventKind.Blacklisted], kinds);
    }

    [Fact]
    public void ThrowingHandlerNeverReachesTheCheckAndIsCounted()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(5) });
        h.Limiter.ClientStateChanged += (_, _) => throw new InvalidOperationException("firewall down");
        using var metrics = new MetricCollector(h.Name);

        Decision d = h.CheckUntilDenied("192.0.2.11");
        Assert.Equal(DecisionReason.Blocked, d.Reason);
        Assert.Equal(1, metrics.Read("floodgate.event_handler.errors"));
    }

    [Fact]
    public void MeterNamedFloodgateCountsDecisionsBlocksEvictionsAndOverflow()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromMinutes(1), BlockLimit = 1 }, capacity: 16);
        using var metrics = new MetricCollector(h.Name);

        h.Check("192.0.2.1", 2);                        // 2 allowed
        h.Check("192.0.2.1", 3);                        // 1 blocked (violation) + 2 blocked
        h.Limiter.Denylist.Add(IPAddress.Parse("192.0.2.2"));
        h.Check("192.0.2.2");                           // denylisted
        h.Limiter.Blacklist(IPAddress.Parse("192.0.2.3"));
        h.Check("192.0.2.3");                           // blacklisted

        Assert.Equal(2, metrics.Read("floodgate.decisions", "floodgate.decision", "allowed"));
        Assert.Equal(3, metrics.Read("floodgate.decisions", "floodgate.decision", "blocked"));
        Assert.Equal(1, metrics.Read("floodgate.decisions", "floodgate.decision", "denylisted"));
        Assert.Equal(1, metrics.Read("floodgate.decisions", "floodgate.decision", "blacklisted"));
        Assert.Equal(1, metrics.Read("floodgate.blocks", "floodgate.block.kind", "block"));
        Assert.Equal(1, metrics.Read("floodgate.blocks", "floodgate.block.kind", "blacklist"));
        Assert.Equal(16, metrics.Read("floodgate.capacity"));

        // Fill the 16 slots with blocked clients: the next new client has no slot (limited by its own count).
        for (int i = 0; i < 14; i++)
        {
            h.CheckUntilDenied($"198.51.100.{i}");
        }

        h.Check("203.0.113.1");
        Assert.Equal(1, metrics.Read("floodgate.overflow"));

        h.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(2));   // blocks and their counts forgotten: a slot is reused
        h.Check("203.0.113.2");
        Assert.Equal(1, metrics.Read("floodgate.evictions"));
    }

    [Fact]
    public void RefusalsByMaxClientsPerPrefixAreCounted()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromSeconds(10), MaxClientsPerPrefix = 1 });
        using var metrics = new MetricCollector(h.Name);
        Assert.True(h.Check("192.0.2.1").IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, h.Check("192.0.2.2").Reason);   // the second client of 192.0.2.0/24 in this window
        Assert.True(h.Check("198.51.100.1").IsAllowed);                         // another network
        Assert.Equal(1, metrics.Read("floodgate.network_limited"));
        Assert.Equal(1, metrics.Read("floodgate.decisions", "floodgate.decision", "rate_limited"));
    }

    [Fact]
    public void LimitersOfOneMeterFactoryShareOneMeterWithEachInstrumentOnce()
    {
        var factory = new CountingMeterFactory();
        var policy = new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) };
        var published = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, FloodgateMeter.For(factory)))
            {
                published.Add(instrument.Name);
                l.EnableMeasurementEvents(instrument);
            }
        };
        var allowed = new Dictionary<string, long>();
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "floodgate.decisions" && tags.ToArray() is var t && t.Any(x => x.Key == "floodgate.decision" && (string?)x.Value == "allowed"))
            {
                allowed[(string)t.Single(x => x.Key == "floodgate.limiter").Value!] = value;
            }
        });
        listener.Start();

        var a = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Name = "a", MeterFactory = factory, Capacity = 16 });
        using var b = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Name = "b", MeterFactory = factory, Capacity = 16 });
        Assert.Equal(1, factory.Created);
        Assert.Single(published, "floodgate.decisions");
        Assert.Single(published, "floodgate.capacity");

        a.Check(IPAddress.Parse("192.0.2.1"));
        b.Check(IPAddress.Parse("192.0.2.1"));
        b.Check(IPAddress.Parse("192.0.2.2"));
        listener.RecordObservableInstruments();
        Assert.Equal(1, allowed["a"]);
        Assert.Equal(2, allowed["b"]);

        a.Dispose();   // a disposed limiter is no longer reported
        allowed.Clear();
        listener.RecordObservableInstruments();
        Assert.Equal(["b"], allowed.Keys);
    }

    /// <summary>A meter factory that counts the meters it creates.</summary>
    private sealed class CountingMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public int Created => _meters.Count;

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }

    /// <summary>Collects the Floodgate meter's observable instruments for one limiter.</summary>
    private sealed class MetricCollector : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Instrument, long Value, KeyValuePair<string, object?>[] Tags)> _measurements = [];

        private readonly string _limiterName;

        public MetricCollector(string limiterName)
        {
            _limiterName = limiterName;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Floodgate")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, t, _) => _measurements.Add((i.Name, v, t.ToArray())));
            _listener.SetMeasurementEventCallback<int>((i, v, t, _) => _measurements.Add((i.Name, v, t.ToArray())));
            _listener.Start();
        }

        public long Read(string instrument, string? tag = null, string? value = null)
        {
            _measurements.Clear();
            _listener.RecordObservableInstruments();
            return _measurements
                .Where(m => m.Tags.Any(t => t.Key == "floodgate.limiter" && (string?)t.Value == _limiterName))
                .Where(m => m.Instrument == instrument && (tag is null || m.Tags.Any(t => t.Key == tag && (string?)t.Value == value)))
                .Sum(m => m.Value);
        }

        public void Dispose() => _listener.Dispose();
    }
}
