using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Floodgate.Bench;

/// <summary>
/// Floodgate as a <see cref="PartitionedRateLimiter{TResource}"/> (<c>ToPartitionedRateLimiter</c>, what
/// <c>UseRateLimiter()</c> and Polly call) against the built-in partitioned fixed-window limiter, on the core
/// benchmark's workload: 100,000 distinct IPv4 clients, allow path (under the limit) and reject path (over it),
/// each invocation acquiring and disposing 200,000 leases (the clients twice).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class PartitionedRateLimiterBenchmarks
{
    private const int Clients = 100_000;
    private const int ChecksPerInvoke = 200_000;

    private IPAddress[] _clients = [];
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private FloodgateLimiter _floodgate = null!;
    private PartitionedRateLimiter<IPAddress> _adapter = null!;

    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    [GlobalSetup]
    public void Setup()
    {
        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        int permits = Path == "Allow" ? int.MaxValue / 2 : 1;
        var window = TimeSpan.FromHours(1);
        _builtIn = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = window, QueueLimit = 0 }));
        _floodgate = new FloodgateLimiter(
            new FloodgatePolicy { PermitLimit = Math.Min(permits, FloodgatePolicy.MaxTotalPermits), Window = window },
            new FloodgateLimiterOptions { Capacity = Clients * 5 / 2 });
        _adapter = _floodgate.ToPartitionedRateLimiter<IPAddress>(ip => ip);
        if (Path == "Reject")
        {
            foreach (IPAddress client in _clients)
            {
                for (int i = 0; i < 3; i++)
                {
                    _builtIn.AttemptAcquire(client).Dispose();
                    _adapter.AttemptAcquire(client).Dispose();
                }
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builtIn.Dispose();
        _adapter.Dispose();
        _floodgate.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChecksPerInvoke)]
    public int BuiltIn() => Run(_builtIn);

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Floodgate() => Run(_adapter);

    private int Run(PartitionedRateLimiter<IPAddress> limiter)
    {
        int acquired = 0;
        for (int pass = 0; pass < ChecksPerInvoke / Clients; pass++)
        {
            foreach (IPAddress client in _clients)
            {
                using RateLimitLease lease = limiter.AttemptAcquire(client);
                acquired += lease.IsAcquired ? 1 : 0;
            }
        }

        return acquired;
    }
}
