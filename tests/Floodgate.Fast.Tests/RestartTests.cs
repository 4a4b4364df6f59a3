using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// A restart changes no decision: the same requests through a limiter that is disposed and recovered from its data
/// directory, again and again, and through one that never stops, get the same answers. Cooldowns, carried-over
/// permits, grace, windows, blocks and escalation all come back as they were.
/// </summary>
public sealed class RestartTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "floodgate-restart-" + Guid.NewGuid().ToString("N"));

    public static TheoryData<string, int> Policies => new()
    {
        { "cooldown", 11 },
        { "carry-over", 12 },
        { "grace", 13 },
        { "escalation", 14 },
    };

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void RestartsChangeNoDecision(string name, int seed)
    {
        FloodgatePolicy policy = name switch
        {
            "cooldown" => new() { PermitLimit = 5, Window = TimeSpan.FromMinutes(1), Cooldown = TimeSpan.FromSeconds(7) },
            "carry-over" => new() { PermitLimit = 4, Window = TimeSpan.FromSeconds(30), AccumulateRequests = true, AccumulateLimit = 6 },
            "grace" => new() { PermitLimit = 3, Window = TimeSpan.FromSeconds(30), GracePermits = 2, BlockDuration = TimeSpan.FromSeconds(20) },
            _ => new()
            {
                PermitLimit = 2,
                Window = TimeSpan.FromSeconds(20),
                BlockDuration = TimeSpan.FromSeconds(15),
                BlockMultiplier = 2,
                MaxBlockDuration = TimeSpan.FromMinutes(2),
                BlockLimit = 3,
                BlockExceedDuration = TimeSpan.FromMinutes(5),
                RelativeBlock = true,
            },
        };
        var time = new FakeTimeProvider(Harness.Start);
        var clients = Enumerable.Range(1, 6).Select(i => IPAddress.Parse($"192.0.2.{i}")).ToArray();
        using var control = new FloodgateLimiter(policy, new FloodgateLimiterOptions { TimeProvider = time });
        FloodgateLimiterOptions Persisted() => new() { TimeProvider = time, DataDirectory = _directory, CheckpointInterval = TimeSpan.FromHours(1) };
        FloodgateLimiter restarting = new(policy, Persisted());
        try
        {
            var random = new Random(seed);
            int restarts = 0;
            var seen = new List<Decision>();
            for (int step = 0; step < 1_500; step++)
            {
                if (random.Next(40) == 0)
                {
                    // Time moves while the app is down, too.
                    restarting.Dispose();
                    time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 3_000)));
                    restarting = new FloodgateLimiter(policy, Persisted());
                    restarts++;
                }

                IPAddress client = clients[random.Next(clients.Length)];
                Decision expected = control.Check(client);
                Decision actual = restarting.Check(client);
                Assert.True(
                    expected.Reason == actual.Reason && expected.Remaining == actual.Remaining && expected.RetryAfter == actual.RetryAfter && expected.ResetAfter == actual.ResetAfter,
                    $"step {step}, {client}, after {restarts} restarts: expected {expected}, got {actual}");
                seen.Add(actual);
                time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 1_500)));
            }

            Assert.True(restarts > 20, $"only {restarts} restarts");

            // The sequence took the policy through what it is about (else the comparison proves little).
            Assert.True(name switch
            {
                "cooldown" => seen.Any(d => d.Reason == DecisionReason.Cooldown),
                "carry-over" => seen.Any(d => d.IsAllowed && d.Remaining >= policy.PermitLimit),   // only with carried permits
                "grace" => seen.Any(d => d.Reason == DecisionReason.Blocked),
                _ => clients.Any(c => control.Inspect(c).BlockCount >= 2),
            }, $"the {name} sequence never used its feature");
            foreach (IPAddress client in clients)
            {
                ClientState expected = control.Inspect(client);
                ClientState actual = restarting.Inspect(client);
                Assert.Equal(expected.BlockCount, actual.BlockCount);
                Assert.Equal(expected.IsBlacklisted, actual.IsBlacklisted);
                Assert.Equal(expected.BlockExpiresAt, actual.BlockExpiresAt);
            }
        }
        finally
        {
            restarting.Dispose();
        }
    }
}
