using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests.Shared.Conformance;

/// <summary>
/// The policy rules every limiter must follow, whatever implements them: the runtime engine, a generated
/// (precompiled) limiter and the Redis script with its C# state view all run this suite, as dotnet/runtime's limiters
/// run <c>BaseRateLimiterTests</c>. Each scenario checks fixed expectations (decisions, Retry-After and reset to the
/// millisecond, <c>Inspect</c> state) and, step by step, that the limiter under test decides and reports exactly as the
/// runtime engine does on the same fake clock.
/// </summary>
/// <remarks>Adding a knob: see docs/adding-a-knob.md; a scenario here is one of its steps.</remarks>
public abstract class PolicyConformanceTests
{
    private static readonly IPAddress s_client = IPAddress.Parse("198.51.100.20");
    private static readonly IPAddress s_other = IPAddress.Parse("203.0.113.9");

    /// <summary>Creates the limiter under test for the catalog's policy <paramref name="name"/>, on <paramref name="time"/>.</summary>
    protected abstract Task<IConformanceLimiter> CreateAsync(string name, FakeTimeProvider time);

    [Fact]
    public Task PermitsPerWindowThenRateLimitedUntilTheWindowEnds() => RunAsync("conformance-limit", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 2, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000);
        run.Advance(2_500);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 7_500);
        run.Advance(1_000);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 6_500, resetMs: 6_500);   // BlockDuration 0: until the window ends
        ClientState state = await run.InspectAsync(s_client);
        Assert.True(state.IsWindowActive);
        Assert.Equal(1, state.BlockCount);   // still one block toward BlockLimit
        Assert.False(state.IsBlocked);
        await run.ExpectAsync(s_other, DecisionReason.Allowed, remaining: 2, resetMs: 10_000);   // per client
        run.Advance(6_500);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 2, resetMs: 10_000);   // a fresh window
    });

    [Fact]
    public Task BlocksEscalateToABlacklist() => RunAsync("conformance-block", async run =>
    {
        for (int block = 1; block <= 3; block++)
        {
            await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000);
            await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
            if (block < 3)
            {
                await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 30_000, resetMs: 30_000);
                ClientState blocked = await run.InspectAsync(s_client);
                Assert.True(blocked.IsBlocked);
                Assert.Equal(block, blocked.BlockCount);
                run.Advance(12_000);
                await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 18_000, resetMs: 18_000);
                run.Advance(18_000);
            }
            else
            {
                // The third block passes BlockLimit 2: blacklisted until an operator lifts it.
                await run.ExpectForbiddenAsync(s_client, DecisionReason.Blacklisted);
                Assert.True((await run.InspectAsync(s_client)).IsBlacklisted);
                run.Advance(86_400_000);
                await run.ExpectForbiddenAsync(s_client, DecisionReason.Blacklisted);
            }
        }
    });

    [Fact]
    public Task APunishmentIsALongerBlockAndResetsTheCount() => RunAsync("conformance-punish", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 10_000, resetMs: 10_000);   // block 1 of BlockLimit 1
        run.Advance(10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 60_000, resetMs: 60_000);   // block 2: punished for a minute
        Assert.True((await run.InspectAsync(s_client)).IsPunished);
        run.Advance(60_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 10_000, resetMs: 10_000);   // BlockExceedReset: counting again from 0
    });

    [Fact]
    public Task AdaptiveBlocksGrowToTheirCap() => RunAsync("conformance-adaptive", async run =>
    {
        foreach (long expected in new long[] { 4_000, 8_000, 10_000, 10_000 })
        {
            await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 5_000);
            await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: expected, resetMs: expected);
            run.Advance(expected);
        }
    });

    [Fact]
    public Task GraceAllowsExtraPermitsUntilTheFirstBlock() => RunAsync("conformance-grace", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed);                                       // the grace permit
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 20_000, resetMs: 20_000);
        run.Advance(20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 20_000, resetMs: 20_000);   // no grace with a block on record
    });

    [Fact]
    public Task CooldownSpacesRequestsWithoutCountingABlock() => RunAsync("conformance-cooldown", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 4, resetMs: 10_000);
        run.Advance(400);
        await run.ExpectAsync(s_client, DecisionReason.Cooldown, retryMs: 600);
        run.Advance(600);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 3, resetMs: 9_000);
        Assert.Equal(0, (await run.InspectAsync(s_client)).BlockCount);
    });

    [Fact]
    public Task UnusedPermitsCarryOverUpToTheirCap() => RunAsync("conformance-carry", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 2, resetMs: 10_000);
        run.Advance(10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 4, resetMs: 10_000);   // 3 + 2 carried - 1
        run.Advance(10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 4, resetMs: 10_000);   // 4 unused, carried capped at 2
        ClientState state = await run.InspectAsync(s_client);
        Assert.Equal(4, state.Remaining);
    });

    [Fact]
    public Task ARelativeBlockRestartsWithEveryRequest() => RunAsync("conformance-relative", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 5_000, resetMs: 5_000);
        run.Advance(4_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 5_000, resetMs: 5_000);   // restarted
        run.Advance(5_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
    });

    [Fact]
    public Task OperatorsUnblockAndBlacklist() => RunAsync("conformance-block", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 30_000, resetMs: 30_000);
        Assert.True(await run.UnblockAsync(s_client));
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000);   // a fresh window
        Assert.Equal(1, (await run.InspectAsync(s_client)).BlockCount);                         // the count stays
        Assert.True(await run.BlacklistAsync(s_other));
        await run.ExpectForbiddenAsync(s_other, DecisionReason.Blacklisted);
    });

    // ---- Token bucket ----

    [Fact]
    public Task ABucketAdmitsItsBurstThenOnePermitPerInterval() => RunAsync("conformance-bucket", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 2_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 4_000);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 2_000, resetMs: 4_000);   // the next permit in 2 s, not a window
        Assert.Equal(1, (await run.InspectAsync(s_client)).BlockCount);
        run.Advance(500);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 1_500, resetMs: 3_500);
        run.Advance(1_500);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 4_000);
        ClientState state = await run.InspectAsync(s_client);
        Assert.Equal(2, state.Count);
        Assert.Equal(TimeSpan.FromSeconds(4), state.ResetAfter);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 2_000, resetMs: 4_000);   // the same episode: no second violation
        Assert.Equal(1, (await run.InspectAsync(s_client)).BlockCount);
        run.Advance(4_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 2_000);          // full again
        await run.ExpectAsync(s_other, DecisionReason.Allowed, remaining: 1, resetMs: 2_000);           // per client
    });

    [Fact]
    public Task ABucketOfOneSpacesRequestsToTheMillisecond() => RunAsync("conformance-bucket-strict", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 334);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 334, resetMs: 334);
        run.Advance(333);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 1, resetMs: 1);   // a third of a ms short: never "retry after 0"
        run.Advance(1);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 334);
        run.Advance(333);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 1, resetMs: 1);   // the fraction carried: 667⅓ ms
        run.Advance(1);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0);
        for (int i = 0; i < 30; i++)
        {
            run.Advance(333);
            await run.CheckAndCompareAsync(s_client);   // three permits a second, exactly, over ten seconds
        }
    });

    [Fact]
    public Task ABucketViolationBlocksAndEscalates() => RunAsync("conformance-bucket-block", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 30_000, resetMs: 30_000);
        Assert.True((await run.InspectAsync(s_client)).IsBlocked);
        run.Advance(30_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 5_000);   // back with a full bucket
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectForbiddenAsync(s_client, DecisionReason.Blacklisted);                     // block 2 passes BlockLimit 1
        Assert.True((await run.InspectAsync(s_client)).IsBlacklisted);
    });

    [Fact]
    public Task ABucketGivesGraceUntilTheFirstBlock() => RunAsync("conformance-bucket-grace", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 15_000);   // the grace permit
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 20_000, resetMs: 20_000);
        run.Advance(20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 20_000, resetMs: 20_000); // no grace with a block on record
    });

    [Fact]
    public Task ABucketHonoursCooldown() => RunAsync("conformance-bucket-cooldown", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 4, resetMs: 2_000);
        run.Advance(400);
        await run.ExpectAsync(s_client, DecisionReason.Cooldown, retryMs: 600, resetMs: 1_600);
        run.Advance(600);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 3, resetMs: 3_000);   // half a permit refilled: 3.5 left, shown as 3
        Assert.Equal(0, (await run.InspectAsync(s_client)).BlockCount);
    });

    [Fact]
    public Task AnOperatorUnblockRefillsTheBucket() => RunAsync("conformance-bucket-block", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 5_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 30_000, resetMs: 30_000);
        Assert.True(await run.UnblockAsync(s_client));
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 5_000);
        Assert.Equal(1, (await run.InspectAsync(s_client)).BlockCount);
    });

    // ---- Sliding window ----

    [Fact]
    public Task ASlidingWindowWeighsThePreviousWindow() => RunAsync("conformance-sliding", async run =>
    {
        for (int left = 3; left >= 0; left--)
        {
            await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: left, resetMs: 20_000);
        }

        // The next permit: 1 ms into the next window, when 4 × (W - e) / W drops below 4.
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 10_001, resetMs: 20_000);
        run.Advance(10_000);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 1, resetMs: 10_000);
        run.Advance(1);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 19_999);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 2_500, resetMs: 19_999);   // a violation of the new window
        Assert.Equal(2, (await run.InspectAsync(s_client)).BlockCount);
        run.Advance(2_500);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 17_499);
        ClientState state = await run.InspectAsync(s_client);
        Assert.Equal(2, state.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(17_499), state.ResetAfter);
        run.Advance(30_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 3, resetMs: 17_499);         // windows later: nothing weighs
        run.Advance(10_000);
        await run.InspectAsync(s_client);                                                               // rolled forward in the view
    });

    [Fact]
    public Task ASlidingWindowViolationBlocksAndEscalates() => RunAsync("conformance-sliding-block", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 20_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 30_000, resetMs: 30_000);
        run.Advance(30_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 20_000);   // a fresh window after the block
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 20_000);
        await run.ExpectForbiddenAsync(s_client, DecisionReason.Blacklisted);
        Assert.True((await run.InspectAsync(s_client)).IsBlacklisted);
    });

    [Fact]
    public Task ASlidingWindowGivesGraceUntilTheFirstBlock() => RunAsync("conformance-sliding-grace", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 20_000);   // the grace permit
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 20_000, resetMs: 20_000);
        run.Advance(20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 20_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 20_000);
        await run.ExpectAsync(s_client, DecisionReason.Blocked, retryMs: 20_000, resetMs: 20_000);
    });

    [Fact]
    public Task ASlidingWindowHonoursCooldown() => RunAsync("conformance-sliding-cooldown", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 4, resetMs: 20_000);
        run.Advance(400);
        await run.ExpectAsync(s_client, DecisionReason.Cooldown, retryMs: 600, resetMs: 19_600);
        run.Advance(600);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 3, resetMs: 19_000);
    });

    [Fact]
    public Task RandomTrafficDecidesAlikeOnEveryShape()
    {
        // Every step compared with the engine: random gaps, several clients, across every shape's catalog policies.
        return Task.WhenAll(new[] { "conformance-bucket", "conformance-bucket-strict", "conformance-bucket-grace", "conformance-sliding", "conformance-sliding-grace", "conformance-limit" }
            .Select(name => RunAsync(name, async run =>
            {
                var random = new Random(name.Length * 7919);
                IPAddress[] clients = [s_client, s_other, IPAddress.Parse("192.0.2.77")];
                for (int i = 0; i < 300; i++)
                {
                    run.Advance(random.Next(4) == 0 ? random.Next(0, 6_000) : random.Next(0, 400));
                    int cost = random.Next(3) == 0 ? random.Next(1, run.MaxCost + 1) : 1;
                    await run.CheckAndCompareAsync(clients[random.Next(clients.Length)], cost);
                    if (i % 50 == 0)
                    {
                        await run.InspectAsync(clients[random.Next(clients.Length)]);
                    }
                }
            })));
    }

    // ---- Cost ----

    [Fact]
    public Task AFixedWindowChargesARequestsCostAllOrNone() => RunAsync("conformance-limit", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 10_000, cost: 2);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 10_000, resetMs: 10_000, cost: 2);   // 1 left: nothing charged
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000);                   // the one left is still there
        run.Advance(10_000);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 10_000, cost: 3);
    });

    [Fact]
    public Task ABucketChargesARequestsCostAllOrNone() => RunAsync("conformance-bucket", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 4_000, cost: 2);
        run.Advance(2_000);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 2_000, resetMs: 2_000, cost: 2);   // one permit back, two asked
        Assert.Equal(1, (await run.InspectAsync(s_client)).Remaining);                                          // nothing charged
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 4_000);
    });

    [Fact]
    public Task ASlidingWindowChargesARequestsCostAllOrNone() => RunAsync("conformance-sliding", async run =>
    {
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 1, resetMs: 20_000, cost: 3);
        await run.ExpectAsync(s_client, DecisionReason.RateLimited, retryMs: 10_001, resetMs: 20_000, cost: 2);   // 3 of 4 taken: two fit 1 ms into the next window
        Assert.Equal(1, (await run.InspectAsync(s_client)).Remaining);
        await run.ExpectAsync(s_client, DecisionReason.Allowed, remaining: 0, resetMs: 20_000);
    });

    private async Task RunAsync(string name, Func<Run, Task> scenario)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.True(ConformancePolicies.All.TryGetValue(name, out FloodgatePolicy? policy), $"no conformance policy '{name}'");
        using var reference = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = 64, TimeProvider = time });
        await using IConformanceLimiter limiter = await CreateAsync(name, time);
        await scenario(new Run(name, limiter, reference, time));
    }

    /// <summary>One scenario's run: every step on the limiter under test and on the reference engine, compared.</summary>
    private sealed class Run(string name, IConformanceLimiter limiter, FloodgateLimiter reference, FakeTimeProvider time)
    {
        private int _step;

        public void Advance(long milliseconds) => time.Advance(TimeSpan.FromMilliseconds(milliseconds));

        /// <summary>Gets the most one request may cost under the scenario's policy.</summary>
        public int MaxCost => reference.MaxCost;

        public async Task<Decision> ExpectAsync(IPAddress client, DecisionReason reason, int? remaining = null, long? retryMs = null, long? resetMs = null, int cost = 1)
        {
            Decision actual = await CheckAsync(client, cost);
            string where = $"{name}, step {_step}: {actual}";
            Assert.True(reason == actual.Reason, $"{where}: expected {reason}");
            Assert.True(remaining is null || remaining == actual.Remaining, $"{where}: expected remaining {remaining}");
            Assert.True(retryMs is null || TimeSpan.FromMilliseconds(retryMs.Value) == actual.RetryAfter, $"{where}: expected Retry-After {retryMs} ms");
            Assert.True(resetMs is null || TimeSpan.FromMilliseconds(resetMs.Value) == actual.ResetAfter, $"{where}: expected reset {resetMs} ms");
            if (reason == DecisionReason.Allowed && retryMs is null)
            {
                Assert.Equal(TimeSpan.Zero, actual.RetryAfter);
            }

            return actual;
        }

        public async Task ExpectForbiddenAsync(IPAddress client, DecisionReason reason)
        {
            Decision actual = await CheckAsync(client, 1);
            Assert.True(reason == actual.Reason, $"{name}, step {_step}: {actual}: expected {reason}");
            Assert.Equal(TimeSpan.MaxValue, actual.RetryAfter);
        }

        public async Task<ClientState> InspectAsync(IPAddress client)
        {
            ClientState expected = reference.Inspect(client);
            ClientState actual = await limiter.InspectAsync(client);
            Assert.True(expected == actual, $"{name}, after step {_step}: Inspect differs from the engine's:{Environment.NewLine}engine {expected}{Environment.NewLine}tested {actual}");
            return actual;
        }

        public async Task<bool> UnblockAsync(IPAddress client)
        {
            bool expected = reference.Unblock(client);
            bool actual = await limiter.UnblockAsync(client);
            Assert.Equal(expected, actual);
            return actual;
        }

        public async Task<bool> BlacklistAsync(IPAddress client)
        {
            bool expected = reference.Blacklist(client);
            bool actual = await limiter.BlacklistAsync(client);
            Assert.Equal(expected, actual);
            return actual;
        }

        public Task<Decision> CheckAndCompareAsync(IPAddress client, int cost = 1) => CheckAsync(client, cost);

        private async Task<Decision> CheckAsync(IPAddress client, int cost)
        {
            _step++;
            Decision expected = reference.Check(client, cost);
            Decision actual = await limiter.CheckAsync(client, cost);
            Assert.True(
                expected.Reason == actual.Reason && expected.Remaining == actual.Remaining && expected.Limit == actual.Limit &&
                expected.RetryAfter == actual.RetryAfter && expected.ResetAfter == actual.ResetAfter,
                $"{name}, step {_step}: the engine decided {expected} (remaining {expected.Remaining}, reset {expected.ResetAfter}); the limiter under test {actual} (remaining {actual.Remaining}, reset {actual.ResetAfter})");
            return actual;
        }
    }
}
