using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Floodgate.Bench;

/// <summary>
/// One check per request over 100,000 distinct IPv4 clients (and 10,000, which fit in cache) for the smooth shapes, on the allow path (under the limit)
/// and the reject path (over it), one thread. Baseline: the built-in partitioned limiter of the same shape
/// (<see cref="SlidingWindowRateLimiter"/> with 10 segments, <see cref="TokenBucketRateLimiter"/>), keyed by client IP,
/// replenished by the partitioned limiter's own timer (AutoReplenishment off: no timer per client). Each invocation
/// makes 200,000 checks (the clients twice).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class ShapeBenchmarks
{
    private const int ChecksPerInvoke = 200_000;

    private IPAddress[] _clients = [];
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private FloodgateLimiter _floodgate = null!;

    [Params(FloodgateAlgorithm.SlidingWindow, FloodgateAlgorithm.TokenBucket)]
    public FloodgateAlgorithm Shape { get; set; }

    [Params(100_000, 10_000)]
    public int Clients { get; set; }

    /// <summary>Allow: every check is under the limit. Reject: every client has used its permits.</summary>
    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    [GlobalSetup]
    public void Setup()
    {
        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        int permits = Path == "Allow" ? 1_000_000 : 1;
        var window = TimeSpan.FromHours(1);
        _builtIn = Shape == FloodgateAlgorithm.TokenBucket
            ? PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetTokenBucketLimiter(ip, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = permits, TokensPerPeriod = Math.Max(1, permits / 360), ReplenishmentPeriod = TimeSpan.FromSeconds(10), QueueLimit = 0, AutoReplenishment = false,
            }))
            : PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetSlidingWindowLimiter(ip, _ => new SlidingWindowRateLimiterOptions
            {
                PermitLimit = permits, Window = window, SegmentsPerWindow = 10, QueueLimit = 0, AutoReplenishment = false,
            }));
        _floodgate = new FloodgateLimiter(
            new FloodgatePolicy { Algorithm = Shape, PermitLimit = permits, Window = window },
            new FloodgateLimiterOptions { Capacity = Clients * 5 / 2 });

        if (Path == "Reject")
        {
            foreach (IPAddress client in _clients)
            {
                for (int i = 0; i < 3; i++)
                {
                    _builtIn.AttemptAcquire(client).Dispose();
                    _floodgate.Check(client);
                }
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builtIn.Dispose();
        _floodgate.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChecksPerInvoke)]
    public int BuiltIn()
    {
        int allowed = 0;
        for (int pass = 0; pass < ChecksPerInvoke / Clients; pass++)
        {
            foreach (IPAddress client in _clients)
            {
                using RateLimitLease lease = _builtIn.AttemptAcquire(client);
                allowed += lease.IsAcquired ? 1 : 0;
            }
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Floodgate()
    {
        int allowed = 0;
        for (int pass = 0; pass < ChecksPerInvoke / Clients; pass++)
        {
            foreach (IPAddress client in _clients)
            {
                allowed += _floodgate.Check(client).IsAllowed ? 1 : 0;
            }
        }

        return allowed;
    }
}
