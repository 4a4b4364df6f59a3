using System.Diagnostics;
using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using RedisRateLimiting;
using StackExchange.Redis;

namespace Floodgate.Bench;

/// <summary>
/// The smooth shapes on a local redis-server (one per benchmark process): 64 concurrent callers over 100,000 clients,
/// 2,048 checks per invocation. Baseline: RedisRateLimiting's sliding window and token bucket on the same server.
/// Reject runs without blocks, so every refusal is decided by the script. The server's own cost per check
/// (usec_per_call of EVALSHA) is printed and appended to $TMPDIR/floodgate-redis-server-cost.txt.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class RedisShapeBenchmarks
{
    private const int Checks = 2_048;
    private const int Clients = 100_000;
    private const int Callers = 64;

    private Process? _server;
    private ConnectionMultiplexer _connection = null!;
    private FloodgateRedisLimiter _floodgate = null!;
    private PartitionedRateLimiter<string> _peer = null!;
    private IPAddress[] _clients = [];
    private string[] _keys = [];
    private int _next;
    private string _method = "?";

    [Params(FloodgateAlgorithm.SlidingWindow, FloodgateAlgorithm.TokenBucket)]
    public FloodgateAlgorithm Shape { get; set; }

    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    [GlobalSetup]
    public void Setup()
    {
        (_server, _connection) = LocalRedis.Start();
        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        _keys = _clients.Select(c => c.ToString()).ToArray();
        int permits = Path == "Allow" ? 1_000_000 : 1;
        var window = TimeSpan.FromHours(1);
        _floodgate = new FloodgateRedisLimiter("bench", new FloodgatePolicy { Algorithm = Shape, PermitLimit = permits, Window = window }, new FloodgateRedisOptions
        {
            ConnectionMultiplexer = _connection,
            Timeout = TimeSpan.FromSeconds(5),
            LocalCapacity = 1 << 18,
        });
        _peer = Shape == FloodgateAlgorithm.TokenBucket
            ? PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetTokenBucketRateLimiter(key, _ => new RedisTokenBucketRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => _connection,
                TokenLimit = permits,
                TokensPerPeriod = Math.Max(1, permits / 360),
                ReplenishmentPeriod = TimeSpan.FromSeconds(10),
            }))
            : PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetSlidingWindowRateLimiter(key, _ => new RedisSlidingWindowRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => _connection,
                PermitLimit = permits,
                Window = window,
            }));

        if (Path == "Reject")
        {
            Task.WhenAll(Enumerable.Range(0, Callers).Select(async worker =>
            {
                for (int i = worker; i < Clients; i += Callers)
                {
                    for (int n = 0; n < 2; n++)
                    {
                        await _floodgate.CheckAsync(_clients[i]).ConfigureAwait(false);
                        (await _peer.AcquireAsync(_keys[i]).ConfigureAwait(false)).Dispose();
                    }
                }
            })).GetAwaiter().GetResult();
        }

        _connection.GetServers()[0].Execute("CONFIG", "RESETSTAT");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            LocalRedis.ReportCost(_connection, $"{_method} Shape={Shape} Path={Path} Clients={Clients} Callers={Callers}");
            _floodgate.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _peer.Dispose();
            _connection.Dispose();
        }
        finally
        {
            _server?.Kill();
            _server?.Dispose();
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Checks)]
    public Task RedisRateLimiting()
    {
        _method = nameof(RedisRateLimiting);
        return Run(async i =>
        {
            using RateLimitLease lease = await _peer.AcquireAsync(_keys[i]).ConfigureAwait(false);
            return lease.IsAcquired;
        });
    }

    [Benchmark(OperationsPerInvoke = Checks)]
    public Task Floodgate()
    {
        _method = nameof(Floodgate);
        return Run(async i => (await _floodgate.CheckAsync(_clients[i]).ConfigureAwait(false)).IsAllowed);
    }

    private Task Run(Func<int, ValueTask<bool>> check) =>
        Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
        {
            for (int n = 0; n < Checks / Callers; n++)
            {
                await check((int)((uint)Interlocked.Increment(ref _next) % Clients)).ConfigureAwait(false);
            }
        })));
}
