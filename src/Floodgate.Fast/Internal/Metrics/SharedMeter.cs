using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// The one <c>Floodgate</c> <see cref="Meter"/> of a meter factory (or of the process, without one), with each
/// instrument created once: every limiter of that factory registers its counters here, and each observable
/// instrument reports all of them, told apart by the <c>floodgate.limiter</c> tag. (One instrument per limiter on a
/// shared meter would be duplicates that a metrics pipeline such as OpenTelemetry drops.)
/// </summary>
internal sealed class SharedMeter
{
    public const string MeterName = "Floodgate";

    private static readonly ConditionalWeakTable<IMeterFactory, SharedMeter> s_byFactory = new();
    private static readonly Lazy<SharedMeter> s_process = new(() => new SharedMeter(new Meter(MeterName)));

    private readonly Lock _lock = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Type, object> _instruments = new();
    private FloodgateMetrics[] _sources = [];
    private int _instrumentsCreated;

    private SharedMeter(Meter meter) => Meter = meter;

    /// <summary>Gets the meter.</summary>
    public Meter Meter { get; }

    /// <summary>Gets the Floodgate meter of <paramref name="factory"/>, or the process's own without one.</summary>
    public static SharedMeter For(IMeterFactory? factory) =>
        (factory is null ? s_process.Value : s_byFactory.GetValue(factory, static f => new SharedMeter(f.Create(new MeterOptions(MeterName))))).WithInstruments();

    /// <summary>Gets the instruments of type <typeparamref name="T"/> on this meter, created once (see <see cref="FloodgateMeter.Instruments{T}"/>).</summary>
    public T Instruments<T>(Func<Meter, T> create)
        where T : class =>
        (T)_instruments.GetOrAdd(typeof(T), static (_, state) => state.Create(state.Meter), (Create: create, Meter));

    /// <summary>Starts reporting a limiter's counters.</summary>
    public void Add(FloodgateMetrics metrics)
    {
        lock (_lock)
        {
            _sources = [.. _sources, metrics];
        }
    }

    /// <summary>Stops reporting a limiter's counters (it was disposed).</summary>
    public void Remove(FloodgateMetrics metrics)
    {
        lock (_lock)
        {
            _sources = Array.FindAll(_sources, m => !ReferenceEquals(m, metrics));
        }
    }

    /// <summary>Creates the instruments, once; after the meter is registered, so that a listener reacting to one may ask for it again.</summary>
    private SharedMeter WithInstruments()
    {
        if (Interlocked.Exchange(ref _instrumentsCreated, 1) != 0)
        {
            return this;
        }

        Meter meter = Meter;
        meter.CreateObservableCounter("floodgate.decisions", () => Each(static m => m.ObserveDecisions()), "{request}",
            "Checks by outcome (tag floodgate.decision).");
        meter.CreateObservableCounter("floodgate.blocks", () => Each(static m => m.ObserveBlocks()), "{block}",
            "Blocks started, by kind (tag floodgate.block.kind: block, punishment, blacklist).");
        meter.CreateObservableCounter("floodgate.evictions", () => Each(static m => [m.Observe(MetricIndex.Evictions)]), "{client}",
            "Clients forgotten to make room for new ones.");
        meter.CreateObservableCounter("floodgate.overflow", () => Each(static m => [m.Observe(MetricIndex.Overflow)]), "{request}",
            "Checks of clients that had no slot, each limited by its own approximate count (the homeless sketch).");
        meter.CreateObservableCounter("floodgate.network_limited", () => Each(static m => [m.Observe(MetricIndex.NetworkLimited)]), "{request}",
            "Checks refused because MaxClientsPerPrefix clients of the client's network had started a window in this one.");
        meter.CreateObservableCounter("floodgate.event_handler.errors", () => Each(static m => [m.Observe(MetricIndex.EventHandlerErrors)]), "{error}",
            "Exceptions thrown by ClientStateChanged handlers (caught, so checks never throw).");
        meter.CreateObservableCounter("floodgate.checkpoints", () => Each(static m => m.ObserveCheckpoints()), "{checkpoint}",
            "Checkpoints written to the data directory, by outcome (tag floodgate.checkpoint.outcome: success, failure).");
        meter.CreateObservableGauge("floodgate.capacity", () => Each(static m => [m.ObserveCapacity()]), "{client}",
            "Client slots in the table.");
        return this;
    }

    private List<Measurement<long>> Each(Func<FloodgateMetrics, IEnumerable<Measurement<long>>> observe)
    {
        // A listener's collection: never on the request path. The array is replaced, never changed, so a read needs no lock.
        var measurements = new List<Measurement<long>>();
        foreach (FloodgateMetrics metrics in Volatile.Read(ref _sources))
        {
            measurements.AddRange(observe(metrics));
        }

        return measurements;
    }
}
