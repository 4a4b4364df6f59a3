using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Floodgate.Bench;

/// <summary>
/// One check per request over 100,000 distinct IPv4 clients (and 10,000, which fit in cache), on the allow path
/// (under the limit) and the reject path (over it), on 1 and 2 threads. Baseline: what the built-in rate
/// limiting middleware does, a <see cref="PartitionedRateLimiter"/> of fixed windows keyed by client IP.
/// Each invocation makes 200,000 checks (the clients twice), split between the threads.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class CheckBenchmarks
{
    private const int ChecksPerInvoke = 200_000;

    private IPAddress[] _clients = [];
    private SecondThread? _second;
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private FloodgateLimiter _floodgate = null!;

    /// <summary>Allow: every check is under the limit. Reject: every client has used its permits.</summary>
    [Params("Allow", "Reject")]
    public string Path { get; set; } = "Allow";

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(100_000, 10_000)]
    public int Clients { get; set; }

    private int Passes => ChecksPerInvoke / Clients;

    [GlobalSetup]
    public void Setup()
    {
        _second = Threads == 2 ? new SecondThread() : null;
        _clients = Enumerable.Range(0, Clients).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        int permits = Path == "Allow" ? int.MaxValue / 2 : 1;
        var window = TimeSpan.FromHours(1);

        _builtIn = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = window, QueueLimit = 0 }));
        _floodgate = new FloodgateLimiter(
            new FloodgatePolicy { PermitLimit = Math.Min(permits, FloodgatePolicy.MaxTotalPermits), Window = window },
            new FloodgateLimiterOptions { Capacity = Clients * 5 / 2 });   // the README's sizing advice: ~2.5× the clients

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
        _second?.Dispose();
        _builtIn.Dispose();
        _floodgate.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChecksPerInvoke)]
    public int BuiltIn() => Run(static (self, from, to) =>
    {
        int allowed = 0;
        for (int pass = 0; pass < self.Passes; pass++)
        {
            for (int i = from; i < to; i++)
            {
                using RateLimitLease lease = self._builtIn.AttemptAcquire(self._clients[i]);
                allowed += lease.IsAcquired ? 1 : 0;
            }
        }

        return allowed;
    });

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Floodgate() => Run(static (self, from, to) =>
    {
        int allowed = 0;
        for (int pass = 0; pass < self.Passes; pass++)
        {
            for (int i = from; i < to; i++)
            {
                allowed += self._floodgate.Check(self._clients[i]).IsAllowed ? 1 : 0;
            }
        }

        return allowed;
    });

    /// <summary>Splits the clients between the threads; each thread checks its half, so the total work is the same.</summary>
    private int Run(Func<CheckBenchmarks, int, int, int> work)
    {
        if (_second is null)
        {
            return work(this, 0, _clients.Length);
        }

        int half = _clients.Length / 2;
        _second.Start(() => work(this, half, _clients.Length));
        int first = work(this, 0, half);
        return first + _second.Wait();
    }
}
