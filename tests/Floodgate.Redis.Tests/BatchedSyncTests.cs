using System.Net;
using Floodgate.Tests.Shared;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>
/// <see cref="RedisSyncMode.Batched"/> attacked: instances hammering one client as fast as they can stay within the
/// stated bound (limit + instances × BatchedShare × limit) and never below the limit; Redis ends up holding every
/// admitted permit; bans reach every instance; a Redis crash loses nothing.
/// </summary>
[Collection(nameof(Hammering))]
public sealed class BatchedSyncTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    internal static FloodgateRedisOptions Options(string configuration) => new()
    {
        Configuration = configuration,
        Timeout = TimeSpan.FromSeconds(2),
        SyncMode = RedisSyncMode.Batched,
        SyncInterval = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>The bound of docs/scale-out.md: the limit plus one budget per instance (and requests racing on one instance at the same moment).</summary>
    private static int Bound(int limit, int instances, double share, int racing) => limit + (instances * Math.Max(1, (int)Math.Floor(limit * share))) + racing;

    public static TheoryData<int, FloodgateAlgorithm> Shapes => new()
    {
        { 2, FloodgateAlgorithm.FixedWindow },
        { 4, FloodgateAlgorithm.FixedWindow },
        { 2, FloodgateAlgorithm.SlidingWindow },
        { 4, FloodgateAlgorithm.SlidingWindow },
        { 2, FloodgateAlgorithm.TokenBucket },
        { 4, FloodgateAlgorithm.TokenBucket },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task InstancesHammeringOneClientStayWithinTheBoundAndReachTheLimit(int instances, FloodgateAlgorithm algorithm)
    {
        // 200 a minute: nothing comes back during the run, so every admission counts against the one limit.
        string name = "batched-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 200, Window = TimeSpan.FromMinutes(1), Algorithm = algorithm };
        if (algorithm == FloodgateAlgorithm.TokenBucket)
        {
            policy.PermitLimit = 1;           // 1 a minute refill, a bucket of 200
            policy.Burst = 200;
        }

        await using var limiters = Instances.Start(instances, name, policy, () => Options(redis.Configuration));
        IPAddress client = IPAddress.Parse("198.51.100.20");
        int allowed = 0;
        int refused = 0;

        // 4 threads per instance, as fast as they can, for 1.5 s: 30 exchange intervals.
        DateTime end = DateTime.UtcNow.AddSeconds(1.5);
        await Task.WhenAll(Enumerable.Range(0, instances * 4).Select(t => Task.Run(async () =>
        {
            FloodgateRedisLimiter limiter = limiters[t % instances];
            while (DateTime.UtcNow < end)
            {
                Decision decision = await limiter.CheckAsync(client);
                Interlocked.Increment(ref decision.IsAllowed ? ref allowed : ref refused);
            }
        })));

        Assert.True(refused > 0, "the client was never refused: the run did not reach the limit");
        Assert.InRange(allowed, 200, Bound(200, instances, 0.25, racing: instances * 4));
        Assert.True(limiters.All.All(l => l.IsBatched));

        // Every admitted permit is on Redis once the last exchanges ran (windows: the count; the bucket: its debt).
        await limiters.FlushAsync();
        if (algorithm != FloodgateAlgorithm.TokenBucket)
        {
            Assert.Equal(allowed, await SharedCountAsync(redis.Configuration, name, "198.51.100.20"));
        }
    }

    [Fact]
    public async Task TheWorstCaseReachesTheBoundExactlyAndNoFurther()
    {
        // The worst case: no instance learns of another's use before the window ends (no exchange in the test's time).
        // Each admits its budget on its own (25 = 0.25 x 100), then asks Redis, which holds none of those: it admits
        // the limit. So four instances admit exactly limit + 4 x budget, the bound, and not one more.
        string name = "batched-worst-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) };
        await using var limiters = Instances.Start(4, name, policy, () =>
        {
            FloodgateRedisOptions options = Options(redis.Configuration);
            options.SyncInterval = TimeSpan.FromSeconds(10);
            return options;
        });
        IPAddress client = IPAddress.Parse("198.51.100.24");
        int allowed = 0;
        foreach (FloodgateRedisLimiter limiter in limiters.All)
        {
            for (int i = 0; i < 150; i++)
            {
                allowed += (await limiter.CheckAsync(client)).IsAllowed ? 1 : 0;
            }
        }

        Assert.Equal(Bound(100, 4, 0.25, racing: 0), allowed);
        await limiters.FlushAsync();
        Assert.Equal(allowed, await SharedCountAsync(redis.Configuration, name, "198.51.100.24"));
    }

    [Fact]
    public async Task AFloodOfDistinctClientsOverflowingTheCountingTableLetsNoClientPastTheBound()
    {
        // An attacker rotating addresses: 4,000 clients against counting tables of 256 slots. Those without a slot are
        // checked on Redis; none is admitted past the bound, and nothing throws.
        string name = "batched-flood-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) };
        await using var limiters = Instances.Start(2, name, policy, () =>
        {
            FloodgateRedisOptions options = Options(redis.Configuration);
            options.LocalCapacity = 256;
            return options;
        });
        int[] admitted = new int[4_000];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (int n = t; n < admitted.Length * 8; n += 8)
            {
                int client = n % admitted.Length;
                if ((await limiters[n % 2].CheckAsync(IPAddress.Parse($"10.{client / 250}.{client % 250}.9"))).IsAllowed)
                {
                    Interlocked.Increment(ref admitted[client]);
                }
            }
        })));

        // Limit 5, a budget of 1 per instance: 5 to 7 each.
        Assert.All(admitted, a => Assert.InRange(a, 5, Bound(5, 2, 0.25, racing: 0)));
        await limiters.FlushAsync();
        Assert.Equal(admitted[17], await SharedCountAsync(redis.Configuration, name, "10.0.17.9"));
    }

    [Fact]
    public async Task ManyClientsAreDecidedInProcessAndCountedOnRedis()
    {
        // A large limit: every request is decided in process; Redis sees one exchange per client per interval.
        string name = "batched-many-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 100_000, Window = TimeSpan.FromMinutes(1) };
        await using var first = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        await using var second = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        int[] admitted = new int[64];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            FloodgateRedisLimiter limiter = t % 2 == 0 ? first : second;
            for (int i = 0; i < 2_000; i++)
            {
                int client = (i + t) % 64;
                if ((await limiter.CheckAsync(IPAddress.Parse($"203.0.113.{client}"))).IsAllowed)
                {
                    Interlocked.Increment(ref admitted[client]);
                }
            }
        })));

        Assert.Equal(16_000, admitted.Sum());
        Assert.True(await first.FlushAsync());
        Assert.True(await second.FlushAsync());
        for (int client = 0; client < 64; client++)
        {
            Assert.Equal(admitted[client], await SharedCountAsync(redis.Configuration, name, $"203.0.113.{client}"));
        }

        // The other instance's use is known here after this instance's next exchange of the client: its count is the shared one.
        Assert.True((await first.CheckAsync(IPAddress.Parse("203.0.113.1"))).IsAllowed);
        Assert.True(await first.FlushAsync());
        Decision peeked = await first.PeekAsync(IPAddress.Parse("203.0.113.1"), null, 1, CancellationToken.None);   // counts nothing
        Decision seen = await first.CheckAsync(IPAddress.Parse("203.0.113.1"));
        Assert.Equal(100_000 - admitted[1] - 2, seen.Remaining);
        Assert.Equal(seen.Remaining + 1, peeked.Remaining);
    }

    [Fact]
    public async Task AViolationFoundByAnyInstanceIsASharedBanAtOnceAndBlockCountsAddUp()
    {
        string name = "batched-ban-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 20, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10), BlockLimit = 1 };
        await using var first = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        await using var second = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        await using var third = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        IPAddress client = IPAddress.Parse("198.51.100.21");

        int allowed = 0;
        for (int i = 0; i < 40; i++)
        {
            allowed += (await (i % 2 == 0 ? first : second).CheckAsync(client)).IsAllowed ? 1 : 0;
        }

        Assert.InRange(allowed, 20, Bound(20, 2, 0.25, 0));
        Assert.Equal(1, (await third.InspectAsync(client)).BlockCount);

        // The instance that never saw the client refuses it too, from its local table (the ban channel), without Redis.
        await Eventually.WaitAsync(async () => (await third.CheckAsync(client)).Reason == DecisionReason.Blocked, "the block reaches the third instance");
        foreach (FloodgateRedisLimiter limiter in new[] { first, second, third })
        {
            Assert.True(limiter.Local.TryGetBan(limiter.Local.GetKey(client), out Decision held));
            Assert.Equal(DecisionReason.Blocked, held.Reason);
        }

        // An operator lifts it; the second violation passes BlockLimit 1: blacklisted everywhere (the block counts added up).
        Assert.True(await third.UnblockAsync(client));
        await Eventually.WaitAsync(() => Task.FromResult(!first.Local.TryGetBan(first.Local.GetKey(client), out _) && !second.Local.TryGetBan(second.Local.GetKey(client), out _)), "the unblock reaches both");
        for (int i = 0; i < 60 && (await first.CheckAsync(client)).Reason != DecisionReason.Blacklisted; i++)
        {
            await second.CheckAsync(client);
        }

        Assert.True((await second.InspectAsync(client)).IsBlacklisted);
        Assert.Equal(2, (await second.InspectAsync(client)).BlockCount);
        await Eventually.WaitAsync(async () => (await third.CheckAsync(client)).Reason == DecisionReason.Blacklisted, "the blacklisting reaches the third instance");
    }

    [Fact]
    public async Task AClientOverAGracePolicysLimitIsRefusedWithoutARoundTripOnceRedisRefusedIt()
    {
        // Grace permits are Redis's to grant (a first offender's), so the first refusals go to Redis; once Redis refuses,
        // its refusal holds until its Retry-After and the instances refuse in process. This class runs alone: the
        // server's EVALSHA count is this test's.
        string name = "batched-grace-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), GracePermits = 2 };
        await using var first = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        await using var second = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        IPAddress client = IPAddress.Parse("198.51.100.23");
        int allowed = 0;
        for (int i = 0; i < 40; i++)
        {
            allowed += (await (i % 2 == 0 ? first : second).CheckAsync(client)).IsAllowed ? 1 : 0;
        }

        Assert.InRange(allowed, 12, 12 + (2 * 2));   // the limit and the grace, plus a budget of 2 per instance
        Assert.True(await first.FlushAsync());
        Assert.True(await second.FlushAsync());
        long before = EvalCalls();
        for (int i = 0; i < 200; i++)
        {
            Decision refused = await (i % 2 == 0 ? first : second).CheckAsync(client);
            Assert.Equal(DecisionReason.RateLimited, refused.Reason);
            Assert.InRange(refused.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        }

        Assert.InRange(EvalCalls() - before, 0, 2);   // 200 refusals, at most one round trip per instance
    }

    private long EvalCalls()
    {
        string stats = redis.Server.Cli("INFO commandstats");
        string? line = stats.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ARelativeBlockIsNeverAdmittedInProcessWhileRedisExtendsIt()
    {
        // A 1 s window and a 2 s relative block: the local table holds the block a second at a time, and the client's
        // window here rolls in a second. Every request during the block must still be refused (and extend it on Redis).
        string name = "batched-rel-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromSeconds(1), BlockDuration = TimeSpan.FromSeconds(2), RelativeBlock = true };
        await using var first = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        await using var second = new FloodgateRedisLimiter(name, policy, Options(redis.Configuration));
        IPAddress client = IPAddress.Parse("198.51.100.22");
        for (int i = 0; i < 10 && (await first.CheckAsync(client)).Reason != DecisionReason.Blocked; i++)
        {
        }

        var during = new List<DecisionReason>();
        DateTime end = DateTime.UtcNow.AddSeconds(3.5);
        for (int i = 0; DateTime.UtcNow < end; i++)
        {
            during.Add((await (i % 2 == 0 ? first : second).CheckAsync(client)).Reason);
            await Task.Delay(100);
        }

        Assert.All(during, reason => Assert.Equal(DecisionReason.Blocked, reason));
    }

    [Fact]
    public async Task ARedisCrashAndRestartLosesNoAdmittedPermit()
    {
        // Redis with an append-only file, so that a restart keeps what it had; FailClosed, so that nothing is admitted
        // outside the shared count: every admitted permit must be on Redis in the end.
        using var server = new RedisProcess(extraArguments: "--appendonly yes --appendfsync always");
        string name = "batched-crash-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromMinutes(5) };
        FloodgateRedisOptions Settings()
        {
            FloodgateRedisOptions options = Options(server.Endpoint);
            options.OutagePolicy = RedisOutagePolicy.FailClosed;
            options.Timeout = TimeSpan.FromMilliseconds(200);
            options.ProbeInterval = TimeSpan.FromMilliseconds(100);
            return options;
        }

        await using var first = new FloodgateRedisLimiter(name, policy, Settings());
        await using var second = new FloodgateRedisLimiter(name, policy, Settings());
        int allowed = 0;
        int during = 0;
        int[] perClient = new int[3];
        bool down = false;
        using var stop = new CancellationTokenSource();
        Task[] load = Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
        {
            FloodgateRedisLimiter limiter = t % 2 == 0 ? first : second;
            while (!stop.IsCancellationRequested)
            {
                Decision decision = await limiter.CheckAsync(IPAddress.Parse($"198.51.100.{30 + (t % 3)}"));
                if (decision.IsAllowed)
                {
                    Interlocked.Increment(ref allowed);
                    Interlocked.Increment(ref perClient[t % 3]);
                    if (Volatile.Read(ref down))
                    {
                        Interlocked.Increment(ref during);
                    }
                }

                await Task.Yield();
            }
        })).ToArray();

        await Task.Delay(500);
        server.Kill();
        Volatile.Write(ref down, true);

        // Every check is decided in process, yet the outage is seen: failed exchanges open the breaker (health checks read it).
        await Eventually.WaitAsync(() => Task.FromResult(!first.IsRedisAvailable && !second.IsRedisAvailable), "failed exchanges open both breakers");
        await Task.Delay(500);
        server.Start();
        Volatile.Write(ref down, false);
        await Eventually.WaitAsync(() => Task.FromResult(first.IsRedisAvailable && second.IsRedisAvailable), "both breakers close");
        await Task.Delay(500);
        await stop.CancelAsync();
        await Task.WhenAll(load);
        Assert.True(await first.FlushAsync());
        Assert.True(await second.FlushAsync());

        Assert.True(during > 0, "nothing was admitted while Redis was down: the batched path waited on it");
        long[] onRedis = new long[3];
        for (int c = 0; c < 3; c++)
        {
            onRedis[c] = await SharedCountAsync(server.Endpoint, name, $"198.51.100.{30 + c}");
        }

        Assert.True(perClient.Select(a => (long)a).SequenceEqual(onRedis), $"admitted {string.Join(", ", perClient)}; on Redis {string.Join(", ", onRedis)}");
    }

    /// <summary>The count Redis holds for a client (the state's second field), or 0 when it holds none.</summary>
    internal static async Task<long> SharedCountAsync(string configuration, string name, string client, string prefix = "floodgate:")
    {
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        RedisResult count = await connection.GetDatabase().ScriptEvaluateAsync(
            "local s = redis.call('GET', KEYS[1]) if not s then return 0 end local ws, c = struct.unpack('<diBidBBHdd', s) return c",
            [(RedisKey)$"{prefix}{name}:{{{client}}}"]);
        return (long)count;
    }
}

/// <summary>Limiter instances of one policy, as several app instances have them: flushed and disposed together.</summary>
internal sealed class Instances(List<FloodgateRedisLimiter> all) : IAsyncDisposable
{
    public List<FloodgateRedisLimiter> All => all;

    public FloodgateRedisLimiter this[int i] => all[i];

    public static Instances Start(int count, string name, FloodgatePolicy policy, Func<FloodgateRedisOptions> options) =>
        new(Enumerable.Range(0, count).Select(_ => new FloodgateRedisLimiter(name, policy, options())).ToList());

    /// <summary>Every instance's last exchanges: all that was admitted is on Redis.</summary>
    public async Task FlushAsync()
    {
        foreach (FloodgateRedisLimiter limiter in all)
        {
            Assert.True(await limiter.FlushAsync());
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (FloodgateRedisLimiter limiter in all)
        {
            await limiter.DisposeAsync();
        }
    }
}

/// <summary>
/// Tests that hammer limiters from every core as fast as they can run alone, after the others: beside them, tests that
/// measure real time (a 1 s window, real key expiry) would see the machine stall.
/// </summary>
[CollectionDefinition(nameof(Hammering), DisableParallelization = true)]
public sealed class Hammering;
