using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using RedisRateLimiting;

namespace Floodgate.Bench;

/// <summary>
/// The smooth shapes on a local redis-server: 64 concurrent callers over 100,000 clients, 2,048 checks per invocation.
/// Baseline: RedisRateLimiting's sliding window and token bucket on the same server. Reject runs without blocks, so
/// every refusal is decided by the script. The server's cost per check is reported (see <see cref="RedisPeerBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class RedisShapeBenchmarks : RedisPeerBenchmarks
{
    [Params(FloodgateAlgorithm.SlidingWindow, FloodgateAlgorithm.TokenBucket)]
    public FloodgateAlgorithm Shape { get; set; }

    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    protected override int ClientCount => 100_000;

    protected override int CallerCount => 64;

    protected override string Label => $"Shape={Shape} Path={Path} Clients={ClientCount} Callers={CallerCount}";

    [GlobalSetup]
    public void Setup()
    {
        StartServer();
        int permits = Path == "Allow" ? 1_000_000 : 1;
        var window = TimeSpan.FromHours(1);
        FloodgateLimiter = new FloodgateRedisLimiter("bench", new FloodgatePolicy { Algorithm = Shape, PermitLimit = permits, Window = window }, new FloodgateRedisOptions
        {
            ConnectionMultiplexer = Connection,
            Timeout = TimeSpan.FromSeconds(5),
            LocalCapacity = 1 << 18,
        });
        Peer = Shape == FloodgateAlgorithm.TokenBucket
            ? PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetTokenBucketRateLimiter(key, _ => new RedisTokenBucketRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => Connection,
                TokenLimit = permits,
                TokensPerPeriod = Math.Max(1, permits / 360),
                ReplenishmentPeriod = TimeSpan.FromSeconds(10),
            }))
            : PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetSlidingWindowRateLimiter(key, _ => new RedisSlidingWindowRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => Connection,
                PermitLimit = permits,
                Window = window,
            }));
        FinishSetup(overTheLimit: Path == "Reject");
    }
}
