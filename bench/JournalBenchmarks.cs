using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Floodgate.Bench;

/// <summary>
/// What the ban journal costs the check path: checks where every 100th one bans a client (each client is checked
/// 100 times in a row with a limit of 99, so its 100th check blocks it for a second), against checks that never
/// ban, with no persistence, with checkpoints only, and with checkpoints plus the journal. The built-in fixed-window
/// limiter on the same sequence (its 100th check of a client is refused; it has no bans) is the baseline.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class JournalBenchmarks
{
    private const int ChecksPerInvoke = 100_000;
    private const int ChecksPerClient = 100;

    private string _directory = string.Empty;
    private FloodgateLimiter _limiter = null!;
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private IPAddress[] _clients = [];
    private int _next;

    public enum Persistence
    {
        None,
        Checkpoints,
        Journal,
    }

    /// <summary>Gets or sets whether every 100th check bans (a limit of 99 per client) or none does (a limit of a million).</summary>
    [Params(false, true)]
    public bool Bans { get; set; }

    [Params(Persistence.None, Persistence.Checkpoints, Persistence.Journal)]
    public Persistence Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "floodgate-journal-bench-" + Guid.NewGuid().ToString("N"));
        int limit = Bans ? ChecksPerClient - 1 : 1_000_000;
        var policy = new FloodgatePolicy { PermitLimit = limit, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromSeconds(1) };
        _limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions
        {
            Capacity = 1 << 18,
            DataDirectory = Mode == Persistence.None ? null : _directory,
            CheckpointInterval = TimeSpan.FromSeconds(30),
            JournalBans = Mode == Persistence.Journal,
        });
        _builtIn = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = TimeSpan.FromHours(1), QueueLimit = 0 }));

        // Clients in a cycle long enough that a client's block (1 s) has ended when it comes round again.
        _clients = Enumerable.Range(0, 1 << 17).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _limiter.Dispose();
        _builtIn.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChecksPerInvoke)]
    public int BuiltIn()
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            using RateLimitLease lease = _builtIn.AttemptAcquire(NextClient(i));
            allowed += lease.IsAcquired ? 1 : 0;
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Floodgate()
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            allowed += _limiter.Check(NextClient(i)).IsAllowed ? 1 : 0;
        }

        return allowed;
    }

    private IPAddress NextClient(int i)
    {
        if (i % ChecksPerClient == 0)
        {
            _next = (_next + 1) & (_clients.Length - 1);
        }

        return _clients[_next];
    }
}
