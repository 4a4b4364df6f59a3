using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Redis.Tests;

/// <summary>
/// The ban sync reads Redis, then writes what it read into the local ban table. A check that punishes the client in
/// between must win: the sync never puts the older, shorter block it read over the newer one.
/// </summary>
public sealed class BanSyncRaceTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly IPAddress s_client = IPAddress.Parse("198.51.100.77");

    [Fact]
    public async Task ADecisionBetweenTheSyncsReadAndItsWriteIsKept()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var policy = new FloodgatePolicy
        {
            PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromSeconds(10),
            BlockLimit = 1, BlockExceedDuration = TimeSpan.FromHours(1),
        };
        await using var limiter = new FloodgateRedisLimiter("race-" + Guid.NewGuid().ToString("N"), policy, new FloodgateRedisOptions
        {
            Configuration = redis.Configuration,
            TimeProvider = time,
            ScriptClock = () => time.GetUtcNow().ToUnixTimeMilliseconds(),
            BanSyncInterval = TimeSpan.FromHours(1),
        });
        await Eventually.WaitAsync(() => limiter.SyncedVersion != -1, "the ban sync at start");

        Assert.True((await limiter.CheckAsync(s_client)).IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(10), (await limiter.CheckAsync(s_client)).RetryAfter);   // block 1: 10 s

        // While the sync has read the 10 s block, the block ends and the client earns its punishment: an hour.
        limiter.AfterSyncReadForTests = async () =>
        {
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.True((await limiter.CheckAsync(s_client)).IsAllowed);
            Assert.Equal(TimeSpan.FromHours(1), (await limiter.CheckAsync(s_client)).RetryAfter);
        };
        Assert.True(await limiter.SyncBansAsync());

        Assert.True(limiter.Local.TryGetBan(limiter.Local.GetKey(s_client), out Decision held));
        Assert.Equal(TimeSpan.FromHours(1), held.RetryAfter);
        Assert.Equal(TimeSpan.FromHours(1), (await limiter.CheckAsync(s_client)).RetryAfter);
    }
}
