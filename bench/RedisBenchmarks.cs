using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using RedisRateLimiting;

namespace Floodgate.Bench;

/// <summary>
/// Checks against a local redis-server that the benchmark starts. Baseline: the RedisRateLimiting package's
/// fixed-window partitioned limiter on the same server, keyed by client. Floodgate runs its full policy (windows,
/// blocks, block counts) in its script. Each invocation makes 2,048 checks, sequentially or from 64 concurrent callers;
/// 1 client or 100,000. Allow: under the limit; Reject: over it (Floodgate's rejected clients are blocked, so its reject
/// path is answered locally: the "banned client" fast path). The server's cost per check is reported (see
/// <see cref="RedisPeerBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class RedisBenchmarks : RedisPeerBenchmarks
{
    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    [Params(1, 100_000)]
    public int Clients { get; set; }

    [Params(1, 64)]
    public int Callers { get; set; }

    protected override int ClientCount => Clients;

    protected override int CallerCount => Callers;

    protected override string Label => $"Path={Path} Clients={Clients} Callers={Callers}";

    [GlobalSetup]
    public void Setup()
    {
        StartServer();
        bool allow = Path == "Allow";
        var policy = allow
            ? new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromSeconds(10) }
            : new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromHours(1), BlockLimit = 3 };
        FloodgateLimiter = new FloodgateRedisLimiter("bench", policy, new FloodgateRedisOptions
        {
            ConnectionMultiplexer = Connection,
            Timeout = TimeSpan.FromSeconds(5),
            LocalCapacity = 1 << 18,
        });
        Peer = PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetFixedWindowRateLimiter(key, _ => new RedisFixedWindowRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => Connection,
            PermitLimit = policy.PermitLimit,
            Window = policy.Window,
        }));
        FinishSetup(overTheLimit: !allow);
    }
}
