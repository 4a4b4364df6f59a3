using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using RedisRateLimiting;
using StackExchange.Redis;

namespace Floodgate.Bench;

/// <summary>
/// Checks against a local redis-server that the benchmark starts (one per benchmark process, on a free loopback
/// port). Baseline: the RedisRateLimiting package's fixed-window partitioned limiter on the same server, keyed by
/// client. Floodgate runs its full policy (windows, blocks, block counts) in its script. Each invocation makes
/// 2,048 checks, sequentially or from 64 concurrent callers; 1 client or 100,000. Allow: under the limit;
/// Reject: over it (Floodgate's rejected clients are blocked, so its reject path is answered locally: the
/// "banned client" fast path). The server's own cost per check (usec_per_call of EVALSHA from INFO commandstats)
/// is printed and appended to $TMPDIR/floodgate-redis-server-cost.txt.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class RedisBenchmarks
{
    private const int Checks = 2_048;

    private Process? _server;
    private ConnectionMultiplexer _connection = null!;
    private FloodgateRedisLimiter _floodgate = null!;
    private PartitionedRateLimiter<string> _peer = null!;
    private IPAddress[] _clients = [];
    private string[] _keys = [];
    private int _next;

    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    [Params(1, 100_000)]
    public int Clients { get; set; }

    [Params(1, 64)]
    public int Callers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_server, _connection) = LocalRedis.Start();

        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        _keys = _clients.Select(c => c.ToString()).ToArray();
        bool allow = Path == "Allow";
        var policy = allow
            ? new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromSeconds(10) }
            : new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromHours(1), BlockLimit = 3 };
        _floodgate = new FloodgateRedisLimiter("bench", policy, new FloodgateRedisOptions
        {
            ConnectionMultiplexer = _connection,
            Timeout = TimeSpan.FromSeconds(5),
            LocalCapacity = 1 << 18,
        });
        _peer = PartitionedRateLimiter.Create<string, string>(key => RedisRateLimitPartition.GetFixedWindowRateLimiter(key, _ => new RedisFixedWindowRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => _connection,
            PermitLimit = policy.PermitLimit,
            Window = policy.Window,
        }));

        if (!allow)
        {
            // Every client over its limit before measuring: Floodgate's are blocked, the peer's rejected.
            Task.WhenAll(Enumerable.Range(0, 64).Select(async worker =>
            {
                for (int i = worker; i < Clients; i += 64)
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
            LocalRedis.ReportCost(_connection, $"{_method} Path={Path} Clients={Clients} Callers={Callers}");
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

    private string _method = "?";

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

    private Task Run(Func<int, ValueTask<bool>> check)
    {
        return Callers == 1 ? Sequential() : Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(Caller)));

        async Task Sequential()
        {
            for (int n = 0; n < Checks; n++)
            {
                await check(NextClient()).ConfigureAwait(false);
            }
        }

        async Task Caller()
        {
            for (int n = 0; n < Checks / Callers; n++)
            {
                await check(NextClient()).ConfigureAwait(false);
            }
        }
    }

    private int NextClient() => (int)((uint)Interlocked.Increment(ref _next) % (uint)Clients);
}

/// <summary>A redis-server of the benchmark's own, on a free loopback port, and the server's cost per script call.</summary>
internal static class LocalRedis
{
    public static (Process Server, ConnectionMultiplexer Connection) Start()
    {
        int port = FreePort();
        Process server = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start: apt-get install redis-server");
        string endpoint = $"127.0.0.1:{port},allowAdmin=true";
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return (server, ConnectionMultiplexer.Connect(endpoint + ",abortConnect=true"));
            }
            catch (RedisConnectionException) when (attempt < 50)
            {
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>Prints usec_per_call of EVALSHA since the last CONFIG RESETSTAT, and appends it to $TMPDIR/floodgate-redis-server-cost.txt.</summary>
    public static void ReportCost(ConnectionMultiplexer connection, string label)
    {
        string stats = connection.GetServers()[0].InfoRaw("commandstats") ?? string.Empty;
        string line = stats.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal))?.Trim() ?? "cmdstat_evalsha: none";
        string report = string.Create(CultureInfo.InvariantCulture, $"{label}: {line}");
        Console.WriteLine("// redis-server cost: " + report);
        File.AppendAllText(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "floodgate-redis-server-cost.txt"), report + "\n");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
