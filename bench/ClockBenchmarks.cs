using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Floodgate.Internal;

namespace Floodgate.Bench;

/// <summary>
/// What a check costs with each clock it can read for "now" on <see cref="TimeProvider.System"/>: the kernel's
/// coarse clock (<c>Environment.TickCount64</c>, the Linux default), the parking ticker's published value (a field
/// read; its thread wakes every millisecond while checks arrive), and the provider itself (what policies with
/// durations under 250 ms read). Allow path, one thread, 10,000 clients (in cache, so the clock is a visible part)
/// and 100,000 (each check misses the cache). Baseline: the built-in partitioned fixed-window limiter.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class ClockBenchmarks
{
    private const int ChecksPerInvoke = 200_000;

    private IPAddress[] _clients = [];
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private FloodgateLimiter _kernel = null!;
    private FloodgateLimiter _ticker = null!;
    private FloodgateLimiter _provider = null!;

    [Params(10_000, 100_000)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        var window = TimeSpan.FromHours(1);
        _builtIn = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue / 2, Window = window, QueueLimit = 0 }));
        _kernel = Create("kernel");
        _ticker = Create("ticker");
        _provider = Create("precise");
        AppContext.SetData("Floodgate.Clock", null);

        FloodgateLimiter Create(string clock)
        {
            // The public switch an app sets in its project file (RuntimeHostConfigurationOption), read at construction.
            AppContext.SetData("Floodgate.Clock", clock);
            var limiter = new FloodgateLimiter(
                new FloodgatePolicy { PermitLimit = FloodgatePolicy.MaxTotalPermits, Window = window },
                new FloodgateLimiterOptions { Capacity = Clients * 5 / 2 });
            if (limiter.Clock != clock)
            {
                throw new InvalidOperationException($"Asked for the {clock} clock, got {limiter.Clock} (the kernel clock needs Linux).");
            }

            return limiter;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builtIn.Dispose();
        _kernel.Dispose();
        _ticker.Dispose();
        _provider.Dispose();
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
    public int KernelCoarseClock() => Run(_kernel);

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int ParkingTicker() => Run(_ticker);

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Provider() => Run(_provider);

    private int Run(FloodgateLimiter limiter)
    {
        int allowed = 0;
        for (int pass = 0; pass < ChecksPerInvoke / Clients; pass++)
        {
            foreach (IPAddress client in _clients)
            {
                allowed += limiter.Check(client).IsAllowed ? 1 : 0;
            }
        }

        return allowed;
    }
}
