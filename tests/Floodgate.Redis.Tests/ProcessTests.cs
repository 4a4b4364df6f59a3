using System.Net;
using Floodgate.Tests.Shared;

namespace Floodgate.Redis.Tests;

/// <summary>The sample app run as two separate processes on one redis-server: one limit per client across both.</summary>
public sealed class ProcessTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task TwoAppProcessesEnforceOneLimitExactly()
    {
        string prefix = "proc" + Guid.NewGuid().ToString("N")[..8] + ":";
        var settings = new Dictionary<string, string>
        {
            ["Floodgate__Redis__Configuration"] = redis.Configuration,
            ["Floodgate__Redis__KeyPrefix"] = prefix,
            ["Floodgate__Redis__Timeout"] = "00:00:05",
            // The sample's "partners" policy is keyed by X-Api-Key: instances sharing Redis must hash keys alike.
            ["Floodgate__KeySecret"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        };
        using var first = new SampleProcess(settings);
        using var second = new SampleProcess(settings);
        await Task.WhenAll(first.WaitUntilReadyAsync(), second.WaitUntilReadyAsync());

        // "login": 3 per minute, then a 5-minute block. 30 concurrent requests from one client over both processes.
        using HttpClient toFirst = first.ClientFrom(2);
        using HttpClient toSecond = second.ClientFrom(2);
        HttpStatusCode[] statuses = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? toFirst : toSecond).PostAsync("/login", null);
            return response.StatusCode;
        }));
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(27, statuses.Count(s => s == HttpStatusCode.TooManyRequests));

        // The block is shared: both processes refuse the client for about five minutes; another client is free.
        foreach (HttpClient client in new[] { toFirst, toSecond })
        {
            using HttpResponseMessage refused = await client.PostAsync("/login", null);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));   // rounded up
        }

        using HttpClient other = second.ClientFrom(3);
        Assert.Equal(HttpStatusCode.OK, (await other.PostAsync("/login", null)).StatusCode);

        // "partners": 20 a minute per X-Api-Key, one key over both processes and several addresses.
        int served = 0;
        for (int i = 0; i < 24; i++)
        {
            using HttpClient partner = (i % 2 == 0 ? first : second).ClientFrom(10 + (i % 4));
            using var request = new HttpRequestMessage(HttpMethod.Get, "/partner/orders");
            request.Headers.Add("X-Api-Key", "shared-partner-key");
            using HttpResponseMessage response = await partner.SendAsync(request);
            served += response.IsSuccessStatusCode ? 1 : 0;
        }

        Assert.Equal(20, served);
    }

    [Fact]
    public async Task TwoBatchedAppProcessesStayWithinTheBoundAndAPolicyOverrideStaysExact()
    {
        string prefix = "procb" + Guid.NewGuid().ToString("N")[..8] + ":";
        var settings = new Dictionary<string, string>
        {
            ["Floodgate__Redis__Configuration"] = redis.Configuration,
            ["Floodgate__Redis__KeyPrefix"] = prefix,
            ["Floodgate__Redis__Timeout"] = "00:00:05",
            ["Floodgate__Redis__SyncMode"] = "Batched",
            ["Floodgate__Redis__SyncInterval"] = "50ms",
            ["Floodgate__Redis__PolicySyncModes__login"] = "Exact",
            ["Floodgate__KeySecret"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        };
        using var first = new SampleProcess(settings);
        using var second = new SampleProcess(settings);
        await Task.WhenAll(first.WaitUntilReadyAsync(), second.WaitUntilReadyAsync());
        using HttpClient toFirst = first.ClientFrom(2);
        using HttpClient toSecond = second.ClientFrom(2);

        // "api" (batched): 10 per 10 s and 2 grace permits, which Redis grants. Budget per instance: 10 x 0.25 = 2.
        HttpStatusCode[] items = await Task.WhenAll(Enumerable.Range(0, 60).Select(async i =>
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? toFirst : toSecond).GetAsync("/items");
            return response.StatusCode;
        }));
        Assert.InRange(items.Count(s => s == HttpStatusCode.OK), 12, 12 + (2 * 2) + 2);
        Assert.All(items, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, s.ToString()));

        // "login" (Exact through PolicySyncModes): 3 exactly over both processes.
        HttpStatusCode[] logins = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? toFirst : toSecond).PostAsync("/login", null);
            return response.StatusCode;
        }));
        Assert.Equal(3, logins.Count(s => s == HttpStatusCode.OK));
    }
}
