using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using RedisRateLimiting;

namespace Floodgate.Bench;

/// <summary>
/// <see cref="RedisSyncMode.Batched"/> against a local redis-server the benchmark starts: the same checks as
/// <see cref="RedisBenchmarks"/>' Allow path (a limit no client reaches), decided in process with an exchange every
/// 100 ms, against the RedisRateLimiting package's fixed window (a round trip per check) as the baseline. 64 active
/// clients or 100,000; 64 concurrent callers. The server's cost per check is reported as in <see cref="RedisBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class RedisBatchedBenchmarks : RedisPeerBenchmarks
{
    [Params(64, 100_000)]
    public int Clients { get; set; }

    protected override int ClientCount => Clients;

    protected override int CallerCount => 64;

    protected override string Label => $"Batched Clients={Clients} Callers=64";

    [GlobalSetup]
    public void Setup()
    {
        StartServer();
        var policy = new FloodgatePolicy { PermitLimit = 8_000_000, Window = TimeSpan.FromMinutes(10) };
        FloodgateLimiter = new FloodgateRedisLimiter("bench", policy, new FloodgateRedisOptions
        {
            ConnectionMultiplexer = Connection,
            Timeout = TimeSpan.FromSeconds(5),
            LocalCapacity = 1 << 18,
            SyncMode = RedisSyncMode.Batched,
        });
        Peer = PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetFixedWindowRateLimiter(key, _ => new RedisFixedWindowRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => Connection,
            PermitLimit = policy.PermitLimit,
            Window = policy.Window,
        }));
        FinishSetup(overTheLimit: false);
    }
}
