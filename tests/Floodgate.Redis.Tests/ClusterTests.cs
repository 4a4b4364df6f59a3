using System.Net;
using Floodgate.Tests.Shared;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>A real 3-master Redis Cluster: exact limits for clients spread over all masters, no cross-slot error, a master restart survived.</summary>
[Collection(nameof(Hammering))]
public sealed class ClusterTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task BatchedInstancesKeepEveryClientWithinTheBoundOverAllMasters(int instances)
    {
        // 120 clients over all three masters, 30 a minute each; every instance hammers every client for 1.5 s (30 exchanges).
        string name = "batched" + instances + "-" + Guid.NewGuid().ToString("N")[..8];
        var policy = new FloodgatePolicy { PermitLimit = 30, Window = TimeSpan.FromMinutes(5) };
        await using var limiters = Instances.Start(instances, name, policy, () =>
        {
            FloodgateRedisOptions options = BatchedSyncTests.Options(cluster.Configuration);
            options.BreakerFailureThreshold = 1000;
            return options;
        });
        var clients = Enumerable.Range(0, 120).Select(i => $"10.9.{i}.7").ToList();
        int[] allowed = new int[clients.Count];
        DateTime end = DateTime.UtcNow.AddSeconds(1.5);
        await Task.WhenAll(Enumerable.Range(0, instances * 2).Select(t => Task.Run(async () =>
        {
            FloodgateRedisLimiter limiter = limiters[t % instances];
            for (int n = t; DateTime.UtcNow < end; n++)
            {
                int client = n % clients.Count;
                if ((await limiter.CheckAsync(IPAddress.Parse(clients[client]))).IsAllowed)
                {
                    Interlocked.Increment(ref allowed[client]);
                }
            }
        })));

        // limit + instances x budget (30 x 0.25 = 7), plus one racing request per thread of an instance.
        Assert.All(allowed, a => Assert.InRange(a, 30, 30 + (instances * 7) + 2));
        await limiters.FlushAsync();

        // Nothing lost or counted twice in batches spread over the slots of three masters.
        for (int i = 0; i < clients.Count; i++)
        {
            Assert.Equal(allowed[i], await BatchedSyncTests.SharedCountAsync(cluster.Configuration, name, clients[i]));
        }
    }

    [Fact]
    public async Task ManyClientsOverAllMastersGetExactLimitsAndEveryOperationWorks()
    {
        var policy = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(5), BlockDuration = TimeSpan.FromMinutes(5) };
        var options = new FloodgateRedisOptions { Configuration = cluster.Configuration, Timeout = TimeSpan.FromSeconds(5), BreakerFailureThreshold = 1000 };
        await using var first = new FloodgateRedisLimiter("api", policy, options);
        await using var second = new FloodgateRedisLimiter("api", policy, options);
        var clients = Enumerable.Range(0, 300).Select(i => IPAddress.Parse($"10.{i / 250}.{i % 250}.7")).ToList();
        int[] allowed = new int[clients.Count];
        await Task.WhenAll(clients.Select((client, i) => Task.Run(async () =>
        {
            for (int n = 0; n < 6; n++)
            {
                if ((await (n % 2 == 0 ? first : second).CheckAsync(client)).IsAllowed)
                {
                    Interlocked.Increment(ref allowed[i]);
                }
            }
        })));

        Assert.All(allowed, a => Assert.Equal(3, a));
        Assert.True(first.IsRedisAvailable);

        // The keys really are spread over all three masters.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        var perMaster = connection.GetServers().Where(s => !s.IsReplica).Select(s => s.Keys(pattern: "floodgate:api:*").Count()).ToList();
        Assert.Equal(3, perMaster.Count);
        Assert.All(perMaster, count => Assert.True(count > 50, $"keys per master: {string.Join(", ", perMaster)}"));

        // Operators and listing work across slots.
        Assert.True(await first.BlacklistAsync(clients[1]));
        // The other instance held the block locally: the message updates it.
        await Eventually.WaitAsync(async () => (await second.CheckAsync(clients[1])).Reason == DecisionReason.Blacklisted, "the blacklisting reaching the other instance");

        IReadOnlyList<ClientState> blocked = await second.GetBlockedClientsAsync();
        Assert.Equal(300, blocked.Count);   // every client passed its limit and was blocked, one blacklisted
        Assert.Single(blocked, b => b.IsBlacklisted);
        Assert.True(await second.UnblockAsync(clients[2]));
        Assert.True((await second.CheckAsync(clients[2])).IsAllowed);   // the unblocking instance at once; others by the message
    }

    [Fact]
    public async Task AMasterRestartIsSurvived()
    {
        var policy = new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(5) };
        var options = new FloodgateRedisOptions
        {
            Configuration = cluster.Configuration,
            Timeout = TimeSpan.FromMilliseconds(300),
            BreakerFailureThreshold = 1000,   // keep sending: only the stopped master's slots fail
            OutagePolicy = RedisOutagePolicy.FailClosed,
        };
        await using var limiter = new FloodgateRedisLimiter("restart", policy, options);
        var clients = Enumerable.Range(0, 60).Select(i => IPAddress.Parse($"10.20.0.{i + 1}")).ToList();
        foreach (IPAddress client in clients)
        {
            Assert.True((await limiter.CheckAsync(client)).IsAllowed);
        }

        // Which clients live on the master about to stop: their key's slot, by the cluster's own map.
        RedisProcess master = cluster.Masters[0];
        HashSet<IPAddress> onStopped;
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration))
        {
            ClusterConfiguration map = connection.GetServer(master.Endpoint).ClusterConfiguration!;
            onStopped = clients.Where(c => map.GetBySlot((RedisKey)$"floodgate:restart:{{{c}}}")!.EndPoint!.ToString() == master.Endpoint).ToHashSet();
        }

        Assert.InRange(onStopped.Count, 1, clients.Count - 1);   // 60 clients over 3 masters: some on each side
        master.Kill();
        int shared = 0;
        foreach (IPAddress client in clients)
        {
            // Never thrown: the stopped master's clients get FailClosed's answer (429, Retry-After 1 s). The others
            // get their shared count (their second request of two), or the same answer while the client library
            // reconnects and a request to a live master times out too.
            Decision decision = await limiter.CheckAsync(client);
            bool failedClosed = decision.Reason == DecisionReason.RateLimited && decision.RetryAfter == TimeSpan.FromSeconds(1);
            if (onStopped.Contains(client))
            {
                Assert.True(failedClosed, $"{client} (stopped master): {decision.Reason}, {decision.RetryAfter}");
            }
            else if (decision.IsAllowed)
            {
                Assert.Equal(0, decision.Remaining);
                shared++;
            }
            else
            {
                Assert.True(failedClosed, $"{client} (live master): {decision.Reason}, {decision.RetryAfter}");
            }
        }

        Assert.True(shared > 0, "no client of the live masters was decided by Redis during the outage");

        master.Start();   // same port and nodes.conf: it takes its slots back, empty
        cluster.WaitUntilClusterOk();
        var fresh = Enumerable.Range(0, 60).Select(i => IPAddress.Parse($"10.21.0.{i + 1}")).ToList();
        int allowed = 0;
        for (int attempt = 0; attempt < 50; attempt++)
        {
            allowed = 0;
            foreach (IPAddress client in fresh)
            {
                Decision first = await limiter.CheckAsync(client);
                allowed += first.IsAllowed && first.Remaining == 1 ? 1 : 0;
            }

            if (allowed == fresh.Count)
            {
                break;
            }

            fresh = fresh.Select(a => IPAddress.Parse(a.ToString().Replace("10.21.", $"10.{22 + attempt}.", StringComparison.Ordinal))).ToList();
            await Task.Delay(200);
        }

        Assert.Equal(fresh.Count, allowed);
        foreach (IPAddress client in fresh)
        {
            Assert.True((await limiter.CheckAsync(client)).IsAllowed);
            Assert.Equal(DecisionReason.RateLimited, (await limiter.CheckAsync(client)).Reason);
        }
    }
}
