using System.Net;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>Several limiter instances on one server enforce one limit per client.</summary>
public sealed class SharedLimitTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private FloodgateRedisOptions Options(TimeProvider? time = null, Func<long>? clock = null) => new()
    {
        Configuration = redis.Configuration,
        TimeProvider = time ?? TimeProvider.System,
        ScriptClock = clock,
        Timeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task ConcurrentChecksOverTwoInstancesGrantExactlyTheLimit()
    {
        string name = "shared-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(5) };
        await using var first = new FloodgateRedisLimiter(name, policy, Options());
        await using var second = new FloodgateRedisLimiter(name, policy, Options());
        IPAddress client = IPAddress.Parse("198.51.100.7");
        int allowed = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(t => Task.Run(async () =>
        {
            FloodgateRedisLimiter limiter = t % 2 == 0 ? first : second;
            for (int i = 0; i < 20; i++)
            {
                if ((await limiter.CheckAsync(client)).IsAllowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        })));

        Assert.Equal(100, allowed);   // 1,280 checks from 64 tasks over two instances
    }

    [Fact]
    public async Task BlocksAndBlockCountsAddUpAcrossInstances()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        string name = "blocks-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30), BlockLimit = 1 };
        long Clock() => time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var first = new FloodgateRedisLimiter(name, policy, Options(time, Clock));
        await using var second = new FloodgateRedisLimiter(name, policy, Options(time, Clock));
        IPAddress client = IPAddress.Parse("198.51.100.8");

        Assert.True((await first.CheckAsync(client)).IsAllowed);
        Assert.True((await second.CheckAsync(client)).IsAllowed);
        Decision blocked = await first.CheckAsync(client);              // the third request, on either instance, blocks
        Assert.Equal(DecisionReason.Blocked, blocked.Reason);
        Assert.Equal(DecisionReason.Blocked, (await second.CheckAsync(client)).Reason);
        Assert.Equal(1, (await second.InspectAsync(client)).BlockCount);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True((await second.CheckAsync(client)).IsAllowed);
        Assert.True((await first.CheckAsync(client)).IsAllowed);
        Decision punished = await second.CheckAsync(client);            // the second block passes BlockLimit 1: blacklisted
        Assert.Equal(DecisionReason.Blacklisted, punished.Reason);
        Assert.Equal(DecisionReason.Blacklisted, (await first.CheckAsync(client)).Reason);
        ClientState state = await first.InspectAsync(client);
        Assert.True(state.IsBlacklisted);
        Assert.Equal(2, state.BlockCount);
    }

    [Fact]
    public async Task BannedClientsAreAnsweredLocallyWithoutARoundTrip()
    {
        string name = "local-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) };
        FloodgateRedisOptions options = Options();
        options.BanSyncInterval = TimeSpan.FromHours(1);   // the periodic re-read of local bans is a script per ban: not during the count
        await using var limiter = new FloodgateRedisLimiter(name, policy, options);
        IPAddress client = IPAddress.Parse("198.51.100.9");
        await limiter.CheckAsync(client);
        Assert.Equal(DecisionReason.Blocked, (await limiter.CheckAsync(client)).Reason);

        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        long before = ScriptCalls(connection);
        for (int i = 0; i < 1_000; i++)
        {
            Assert.Equal(DecisionReason.Blocked, (await limiter.CheckAsync(client)).Reason);
        }

        Assert.Equal(0, ScriptCalls(connection) - before);   // a banned client's checks never reach Redis
    }

    private static long ScriptCalls(ConnectionMultiplexer connection)
    {
        IServer server = connection.GetServers()[0];
        string info = server.InfoRaw("commandstats") ?? string.Empty;
        long calls = 0;
        foreach (string line in info.Split('\n'))
        {
            if (line.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal) || line.StartsWith("cmdstat_eval:", StringComparison.Ordinal))
            {
                string part = line.Split(':')[1].Split(',')[0];   // calls=N
                calls += long.Parse(part.AsSpan(part.IndexOf('=') + 1), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }
}
