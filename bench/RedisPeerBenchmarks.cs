using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using StackExchange.Redis;

namespace Floodgate.Bench;

/// <summary>
/// Floodgate on Redis against a peer limiter on the same local redis-server (one per benchmark process, on a free
/// loopback port): the two benchmark bodies, the callers, the clients, and the server's own cost per check
/// (usec_per_call of EVALSHA from INFO commandstats), printed and appended to $TMPDIR/floodgate-redis-server-cost.txt.
/// </summary>
public abstract class RedisPeerBenchmarks
{
    protected const int Checks = 2_048;

    private Process? _server;
    private int _next;
    private string _method = "?";

    protected ConnectionMultiplexer Connection { get; private set; } = null!;

    protected FloodgateRedisLimiter FloodgateLimiter { get; set; } = null!;

    protected PartitionedRateLimiter<string> Peer { get; set; } = null!;

    protected IPAddress[] ClientAddresses { get; private set; } = [];

    protected string[] ClientKeys { get; private set; } = [];

    /// <summary>Gets how many distinct clients the checks go round.</summary>
    protected abstract int ClientCount { get; }

    /// <summary>Gets how many concurrent callers make the checks (1: one after the other).</summary>
    protected abstract int CallerCount { get; }

    /// <summary>Gets the parameters, for the cost report.</summary>
    protected abstract string Label { get; }

    [Benchmark(Baseline = true, OperationsPerInvoke = Checks)]
    public Task RedisRateLimiting()
    {
        _method = nameof(RedisRateLimiting);
        return Run(async i =>
        {
            using RateLimitLease lease = await Peer.AcquireAsync(ClientKeys[i]).ConfigureAwait(false);
            return lease.IsAcquired;
        });
    }

    [Benchmark(OperationsPerInvoke = Checks)]
    public Task Floodgate()
    {
        _method = nameof(Floodgate);
        return Run(async i => (await FloodgateLimiter.CheckAsync(ClientAddresses[i]).ConfigureAwait(false)).IsAllowed);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            string stats = Connection.GetServers()[0].InfoRaw("commandstats") ?? string.Empty;
            string line = stats.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal))?.Trim() ?? "cmdstat_evalsha: none";
            string report = string.Create(CultureInfo.InvariantCulture, $"{_method} {Label}: {line}");
            Console.WriteLine("// redis-server cost: " + report);
            File.AppendAllText(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "floodgate-redis-server-cost.txt"), report + "\n");
            FloodgateLimiter.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Peer.Dispose();
            Connection.Dispose();
        }
        finally
        {
            _server?.Kill();
            _server?.Dispose();
        }
    }

    /// <summary>Starts the server and makes the clients; the subclass then builds both limiters.</summary>
    protected void StartServer()
    {
        int port = FreePort();
        _server = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start: apt-get install redis-server");
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Connection = ConnectionMultiplexer.Connect($"127.0.0.1:{port},allowAdmin=true,abortConnect=true");
                break;
            }
            catch (RedisConnectionException) when (attempt < 50)
            {
                Thread.Sleep(100);
            }
        }

        ClientAddresses = Enumerable.Range(0, ClientCount).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        ClientKeys = ClientAddresses.Select(c => c.ToString()).ToArray();
    }

    /// <summary>Takes every client over its limit on both limiters (for the reject path), then resets the server's statistics.</summary>
    protected void FinishSetup(bool overTheLimit)
    {
        if (overTheLimit)
        {
            Task.WhenAll(Enumerable.Range(0, 64).Select(async worker =>
            {
                for (int i = worker; i < ClientCount; i += 64)
                {
                    for (int n = 0; n < 2; n++)
                    {
                        await FloodgateLimiter.CheckAsync(ClientAddresses[i]).ConfigureAwait(false);
                        (await Peer.AcquireAsync(ClientKeys[i]).ConfigureAwait(false)).Dispose();
                    }
                }
            })).GetAwaiter().GetResult();
        }

        Connection.GetServers()[0].Execute("CONFIG", "RESETSTAT");
    }

    private Task Run(Func<int, ValueTask<bool>> check)
    {
        return CallerCount == 1 ? Caller() : Task.WhenAll(Enumerable.Range(0, CallerCount).Select(_ => Task.Run(Caller)));

        async Task Caller()
        {
            for (int n = 0; n < Checks / CallerCount; n++)
            {
                await check((int)((uint)Interlocked.Increment(ref _next) % (uint)ClientCount)).ConfigureAwait(false);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
