using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Floodgate.Internal;

/// <summary>
/// One limiter's counters, published through the <see cref="SharedMeter"/> of its meter factory.
/// </summary>
/// <remarks>
/// The request path increments a counter in the calling thread's own row (<see cref="CounterRows"/>; one
/// 128-byte block per row, so threads do not share cache lines); the meter's observable instruments add the
/// rows up when a listener asks. Counting costs about half a nanosecond whether or not anyone listens.
/// </remarks>
internal sealed class FloodgateMetrics : IDisposable
{
    private const int RowWidth = 16;   // longs per row: 128 bytes, two cache lines

    private static readonly string[] s_decisionNames =
        ["allowed", "allowlisted", "rate_limited", "cooldown", "blocked", "blacklisted", "denylisted"];

    private readonly long[] _cells;
    private readonly SharedMeter _meter;
    private readonly int _capacity;
    private readonly KeyValuePair<string, object?> _limiterTag;
    private volatile bool _shadow;

    public FloodgateMetrics(string limiterName, int capacity, IMeterFactory? meterFactory, bool shadow = false)
    {
        _shadow = shadow;   // a dry-run policy's decisions carry floodgate.mode = shadow
        // One spare row in front, so row 0 does not share a line with the array header.
        _cells = new long[(CounterRows.Count + 1) * RowWidth];
        _limiterTag = new("floodgate.limiter", limiterName);
        _capacity = capacity;
        _meter = SharedMeter.For(meterFactory);
        _meter.Add(this);
    }

    /// <summary>Gets or sets whether the decisions carry <c>floodgate.mode = shadow</c> (a reload may change the policy's mode).</summary>
    public bool Shadow
    {
        get => _shadow;
        set => _shadow = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(MetricIndex index)
    {
        int row = CounterRows.Current;
        ref long cell = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cells), ((row + 1) * RowWidth) + (int)index);
        if (row != 0)
        {
            // This thread's own row: it is the only writer, a plain increment is exact.
            Volatile.Write(ref cell, cell + 1);
        }
        else
        {
            // The shared row: threads that found no row of their own increment it atomically.
            Interlocked.Increment(ref cell);
        }
    }

    public long Read(MetricIndex index)
    {
        long sum = 0;
        for (int row = 0; row < CounterRows.Count; row++)
        {
            sum += Volatile.Read(ref _cells[((row + 1) * RowWidth) + (int)index]);
        }

        return sum;
    }

    public void Dispose() => _meter.Remove(this);

    public Measurement<long> Observe(MetricIndex index) => new(Read(index), _limiterTag);

    public Measurement<long> ObserveCapacity() => new(_capacity, _limiterTag);

    public IEnumerable<Measurement<long>> ObserveDecisions()
    {
        var measurements = new Measurement<long>[s_decisionNames.Length];
        for (int i = 0; i < s_decisionNames.Length; i++)
        {
            measurements[i] = _shadow
                ? new(Read((MetricIndex)i), _limiterTag, new("floodgate.decision", s_decisionNames[i]), new("floodgate.mode", "shadow"))
                : new(Read((MetricIndex)i), _limiterTag, new("floodgate.decision", s_decisionNames[i]));
        }

        return measurements;
    }

    public IEnumerable<Measurement<long>> ObserveCheckpoints() =>
    [
        new(Read(MetricIndex.Checkpoints), _limiterTag, new("floodgate.checkpoint.outcome", "success")),
        new(Read(MetricIndex.CheckpointFailures), _limiterTag, new("floodgate.checkpoint.outcome", "failure")),
    ];

    public IEnumerable<Measurement<long>> ObserveBlocks() =>
    [
        new(Read(MetricIndex.BlocksStarted), _limiterTag, new("floodgate.block.kind", "block")),
        new(Read(MetricIndex.Punishments), _limiterTag, new("floodgate.block.kind", "punishment")),
        new(Read(MetricIndex.Blacklistings), _limiterTag, new("floodgate.block.kind", "blacklist")),
    ];
}
