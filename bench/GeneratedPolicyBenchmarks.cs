using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Floodgate.Bench;

/// <summary>The policy of <see cref="GeneratedPolicyBenchmarks"/>, declared as users declare compile-time policies.</summary>
[FloodgatePolicy("bench", PermitLimit = 1_000_000, Window = "1h", BlockDuration = "5m", BlockLimit = 3, GracePermits = 2)]
public static partial class BenchPolicies;

/// <summary>
/// The same policy as a generated, compile-time checker and as a runtime <see cref="FloodgatePolicy"/>, on the
/// allow path; the built-in limiter is the baseline. The generated checker should never be slower (≤ 1.0×).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class GeneratedPolicyBenchmarks
{
    private const int ChecksPerInvoke = 200_000;

    private IPAddress[] _clients = [];
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private FloodgateLimiter _runtime = null!;
    private FloodgateLimiter _generated = null!;

    [Params(100_000, 10_000)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        _builtIn = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = 1_000_000, Window = TimeSpan.FromHours(1), QueueLimit = 0 }));
        var options = new FloodgateLimiterOptions { Capacity = Clients * 5 / 2 };
        _runtime = new FloodgateLimiter(
            new FloodgatePolicy
            {
                PermitLimit = 1_000_000,
                Window = TimeSpan.FromHours(1),
                BlockDuration = TimeSpan.FromMinutes(5),
                BlockLimit = 3,
                GracePermits = 2,
            },
            options);
        _generated = FloodgateLimiter.Create<BenchPolicies.Bench>(new FloodgateLimiterOptions { Capacity = Clients * 5 / 2 });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builtIn.Dispose();
        _runtime.Dispose();
        _generated.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChecksPerInvoke)]
    public int BuiltIn()
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            using RateLimitLease lease = _builtIn.AttemptAcquire(_clients[i % _clients.Length]);
            allowed += lease.IsAcquired ? 1 : 0;
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Runtime() => Run(_runtime);

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Generated() => Run(_generated);

    private int Run(FloodgateLimiter limiter)
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            allowed += limiter.Check(_clients[i % _clients.Length]).IsAllowed ? 1 : 0;
        }

        return allowed;
    }
}
