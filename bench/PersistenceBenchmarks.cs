using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Floodgate.Bench;

/// <summary>
/// Persistence with 1,000,000 live clients: the time to write a checkpoint and to recover one (one-shot
/// measurements), and the cost of a check while checkpoints run back to back on the other core.
/// The built-in limiter has no persistence; its check is the baseline for the check-cost benchmark.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class PersistenceBenchmarks
{
    private const int Clients = 1_000_000;
    private const int ChecksPerInvoke = 200_000;

    private static readonly FloodgatePolicy s_policy = new() { PermitLimit = 1_000, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromMinutes(5) };

    private string _directory = string.Empty;
    private string _recoverDirectory = string.Empty;
    private FloodgateLimiter _limiter = null!;
    private FloodgateLimiter? _recovered;
    private PartitionedRateLimiter<IPAddress> _builtIn = null!;
    private IPAddress[] _sample = [];
    private CancellationTokenSource? _stop;
    private Task? _background;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "floodgate-bench-" + Guid.NewGuid().ToString("N"));
        _recoverDirectory = _directory + "-recover";
        _limiter = new FloodgateLimiter(s_policy, Options(_directory));
        for (uint i = 0; i < Clients; i++)
        {
            _limiter.Check(IpKey.FromIPv4(0x0A000000u + i));
        }

        _sample = Enumerable.Range(0, ChecksPerInvoke).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + (i * 5)))).ToArray();
        _builtIn = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = 1_000, Window = TimeSpan.FromHours(1), QueueLimit = 0 }));

        // A directory holding a checkpoint of the same state, for the recovery benchmark.
        using (var source = new FloodgateLimiter(s_policy, Options(_recoverDirectory)))
        {
            for (uint i = 0; i < Clients; i++)
            {
                source.Check(IpKey.FromIPv4(0x0A000000u + i));
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _limiter.Dispose();
        _builtIn.Dispose();
        Directory.Delete(_directory, recursive: true);
        Directory.Delete(_recoverDirectory, recursive: true);
    }

    [Benchmark]
    public Task Checkpoint1M() => _limiter.CheckpointAsync();

    [Benchmark]
    public int Recover1M()
    {
        _recovered = new FloodgateLimiter(s_policy, Options(_recoverDirectory));
        return _recovered.Capacity;
    }

    [IterationCleanup(Target = nameof(Recover1M))]
    public void ReleaseRecovered()
    {
        _recovered?.Dispose();
        _recovered = null;
    }

    [IterationSetup(Targets = [nameof(ChecksDuringCheckpoints)])]
    public void StartCheckpoints()
    {
        _stop = new CancellationTokenSource();
        CancellationToken token = _stop.Token;
        _background = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                await _limiter.CheckpointAsync(CancellationToken.None);
            }
        });
    }

    [IterationCleanup(Targets = [nameof(ChecksDuringCheckpoints)])]
    public void StopCheckpoints()
    {
        _stop!.Cancel();
        _background!.GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke, Baseline = true)]
    public int BuiltInChecks()
    {
        int allowed = 0;
        foreach (IPAddress client in _sample)
        {
            using RateLimitLease lease = _builtIn.AttemptAcquire(client);
            allowed += lease.IsAcquired ? 1 : 0;
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Checks()
    {
        int allowed = 0;
        foreach (IPAddress client in _sample)
        {
            allowed += _limiter.Check(client).IsAllowed ? 1 : 0;
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int ChecksDuringCheckpoints() => Checks();

    private static FloodgateLimiterOptions Options(string directory) => new()
    {
        Capacity = 1 << 21,
        DataDirectory = directory,
        CheckpointInterval = TimeSpan.FromDays(1),
    };
}
