using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Redis.Tests;

/// <summary>
/// The same random request sequences over random policies give the same decisions in process and on Redis. Time is
/// driven through the script's clock hook (tests only), so the comparison is exact: no tolerance.
/// </summary>
public sealed class DifferentialTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    public static TheoryData<int> Seeds() => new() { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task ScriptDecidesAsTheEngineDoes(int seed)
    {
        var random = new Random(seed);
        var seen = new HashSet<DecisionReason>();
        for (int round = 0; round < 4; round++)
        {
            FloodgatePolicy policy = RandomPolicy(random);
            seen.UnionWith(await CompareAsync(policy, random, localBanTable: false, steps: 250));
        }

        // The sequences reach past the limit, not only the allowed path.
        Assert.Contains(DecisionReason.Allowed, seen);
        Assert.True(seen.Count >= 2, "only " + string.Join(", ", seen));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task LocalBanTableAnswersAsTheEngineDoes(int seed)
    {
        // Relative blocks are extended on Redis only by requests that reach it (about one a second per client):
        // compared exactly without the local table above, and here without relative blocks.
        var random = new Random(1000 + seed);
        for (int round = 0; round < 4; round++)
        {
            FloodgatePolicy policy = RandomPolicy(random);
            policy.RelativeBlock = false;
            await CompareAsync(policy, random, localBanTable: true, steps: 250);
        }
    }

    internal static FloodgatePolicy RandomPolicy(Random random)
    {
        var window = TimeSpan.FromMilliseconds(random.Next(500, 5_000));
        var block = random.Next(3) == 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(random.Next(500, 8_000));
        var policy = new FloodgatePolicy
        {
            PermitLimit = random.Next(1, 6),
            Window = window,
            BlockDuration = block,
            RelativeBlock = random.Next(2) == 0,
            BlockLimit = random.Next(3) == 0 ? null : random.Next(0, 4),
            BlockExceedDuration = random.Next(2) == 0 ? FloodgatePolicy.Forever : TimeSpan.FromMilliseconds(random.Next(2_000, 20_000)),
            BlockExceedReset = random.Next(2) == 0,
            MaxWindowDuration = random.Next(3) == 0 ? FloodgatePolicy.Forever : window * random.Next(1, 8),
            AccumulateRequests = random.Next(2) == 0,
            AccumulateLimit = random.Next(2) == 0 ? null : random.Next(0, 5),
            Cooldown = random.Next(3) == 0 ? TimeSpan.FromMilliseconds(random.Next(50, 800)) : TimeSpan.Zero,
            GracePermits = random.Next(3) == 0 ? random.Next(1, 3) : 0,
        };
        if (block > TimeSpan.Zero && random.Next(2) == 0)
        {
            policy.BlockMultiplier = 2.0;
            policy.MaxBlockDuration = block * 4;
        }

        // Every shape, with every knob it has.
        policy.Algorithm = (FloodgateAlgorithm)random.Next(3);
        if (policy.Algorithm != FloodgateAlgorithm.FixedWindow)
        {
            policy.AccumulateRequests = false;
            policy.AccumulateLimit = null;
        }

        if (policy.Algorithm == FloodgateAlgorithm.TokenBucket && random.Next(2) == 0)
        {
            policy.Burst = random.Next(1, 7);
        }

        return policy;
    }

    private async Task<HashSet<DecisionReason>> CompareAsync(FloodgatePolicy policy, Random random, bool localBanTable, int steps)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var engine = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = 64, TimeProvider = time });
        var options = new FloodgateRedisOptions
        {
            Configuration = redis.Configuration,
            TimeProvider = time,
            BanSyncInterval = TimeSpan.FromHours(1),
            ScriptClock = () => time.GetUtcNow().ToUnixTimeMilliseconds(),
            LocalBanTable = localBanTable,
        };
        await using var shared = new FloodgateRedisLimiter("diff-" + Guid.NewGuid().ToString("N"), policy, options);

        // The ban sync at start reads Redis in the background; had it run between a check and the local table's answer,
        // it could put an older shared block over a newer local one (a cache, corrected by the next check that reaches
        // Redis; but the comparison here is exact). Let it finish first.
        await Eventually.WaitAsync(() => shared.SyncedVersion != -1, "the ban sync at start");
        IPAddress[] clients = [IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2"), IPAddress.Parse("2001:db8::1")];
        long windowMs = (long)policy.Window.TotalMilliseconds;
        var seen = new HashSet<DecisionReason>();
        for (int step = 0; step < steps; step++)
        {
            int pick = random.Next(10);
            if (pick < 4)
            {
                time.Advance(TimeSpan.FromMilliseconds(random.Next(0, (int)Math.Min(windowMs, 3_000))));
            }
            else if (pick == 4)
            {
                time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 25_000)));
            }

            IPAddress client = clients[random.Next(clients.Length)];
            Decision expected = engine.Check(client);
            Decision actual = await shared.CheckAsync(client);
            string context = $"policy {Describe(policy)}, step {step}, client {client}";
            Assert.True(expected.Reason == actual.Reason, $"{context}: engine {expected}, Redis {actual}");
            Assert.True(expected.Remaining == actual.Remaining, $"{context}: remaining engine {expected.Remaining}, Redis {actual.Remaining}");
            Assert.True(expected.RetryAfter == actual.RetryAfter, $"{context}: retry engine {expected.RetryAfter}, Redis {actual.RetryAfter}");
            Assert.True(expected.ResetAfter == actual.ResetAfter, $"{context}: reset engine {expected.ResetAfter}, Redis {actual.ResetAfter}");
            seen.Add(actual.Reason);
        }

        return seen;
    }

    internal static string Describe(FloodgatePolicy p) =>
        $"[{p.Algorithm} burst {p.Burst?.ToString() ?? "-"} limit {p.PermitLimit}/{p.Window.TotalMilliseconds}ms block {p.BlockDuration.TotalMilliseconds}ms rel {p.RelativeBlock} " +
        $"blockLimit {p.BlockLimit?.ToString() ?? "-"} exceed {(p.BlockExceedDuration == FloodgatePolicy.Forever ? "forever" : p.BlockExceedDuration.TotalMilliseconds + "ms")} " +
        $"reset {p.BlockExceedReset} maxWindow {(p.MaxWindowDuration == FloodgatePolicy.Forever ? "forever" : p.MaxWindowDuration.TotalMilliseconds + "ms")} " +
        $"acc {p.AccumulateRequests}/{p.AccumulateLimit?.ToString() ?? "-"} cooldown {p.Cooldown.TotalMilliseconds}ms grace {p.GracePermits} mult {p.BlockMultiplier}]";
}
