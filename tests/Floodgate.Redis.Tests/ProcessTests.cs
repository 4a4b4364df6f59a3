using System.Net;
using Floodgate.Tests.Shared;

namespace Floodgate.Redis.Tests;

/// <summary>The sample app run as two separate processes on one redis-server: one limit per client across both.</summary>
public sealed class ProcessTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task TwoAppProcessesEnforceOneLimitExactly()
    {
        Dictionary<string, string> settings = Settings("proc");
        using var first = new SampleProcess(settings);
        using var second = new SampleProcess(settings);
        await Task.WhenAll(first.WaitUntilReadyAsync(), second.WaitUntilReadyAsync());

        // "login": 3 per minute, then a 5-minute block. 30 concurrent requests from one client over both processes.
        using HttpClient toFirst = first.ClientFrom(2);
        using HttpClient toSecond = second.ClientFrom(2);
        HttpStatusCode[] statuses = await AlternatingAsync(toFirst, toSecond, 30, client => client.PostAsync("/login", null));
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
        Dictionary<string, string> settings = Settings("procb");
        settings["Floodgate__Redis__SyncMode"] = "Batched";
        settings["Floodgate__Redis__SyncInterval"] = "50ms";
        settings["Floodgate__Redis__PolicySyncModes__login"] = "Exact";
        using var first = new SampleProcess(settings);
        using var second = new SampleProcess(settings);
        await Task.WhenAll(first.WaitUntilReadyAsync(), second.WaitUntilReadyAsync());
        using HttpClient toFirst = first.ClientFrom(2);
        using HttpClient toSecond = second.ClientFrom(2);

        // "api" (batched): 10 per 10 s and 2 grace permits, which Redis grants. Budget per instance: 10 x 0.25 = 2.
        HttpStatusCode[] items = await AlternatingAsync(toFirst, toSecond, 60, client => client.GetAsync("/items"));
        Assert.InRange(items.Count(s => s == HttpStatusCode.OK), 12, 12 + (2 * 2) + 2);
        Assert.All(items, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, s.ToString()));

        // "login" (Exact through PolicySyncModes): 3 exactly over both processes.
        HttpStatusCode[] logins = await AlternatingAsync(toFirst, toSecond, 30, client => client.PostAsync("/login", null));
        Assert.Equal(3, logins.Count(s => s == HttpStatusCode.OK));
    }

    /// <summary>The sample's settings for one Redis prefix of its own (made of <paramref name="name"/>).</summary>
    private Dictionary<string, string> Settings(string name) => new()
    {
        ["Floodgate__Redis__Configuration"] = redis.Configuration,
        ["Floodgate__Redis__KeyPrefix"] = name + Guid.NewGuid().ToString("N")[..8] + ":",
        ["Floodgate__Redis__Timeout"] = "00:00:05",
        // The sample's "partners" policy is keyed by X-Api-Key: instances sharing Redis must hash keys alike.
        ["Floodgate__KeySecret"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
    };

    /// <summary><paramref name="count"/> concurrent requests, alternately to each process: their statuses.</summary>
    private static Task<HttpStatusCode[]> AlternatingAsync(HttpClient first, HttpClient second, int count, Func<HttpClient, Task<HttpResponseMessage>> send) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            using HttpResponseMessage response = await send(i % 2 == 0 ? first : second);
            return response.StatusCode;
        }));
}
