using System.Net;
using Floodgate.Tests.Shared;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// The sample run as its own process: what the README says it has (an attribute policy, the admin endpoints behind
/// the authorization policy it defines, the health check), and its secrets safe whether or not they are configured.
/// </summary>
public sealed class SampleTests
{
    private const string Secret = "sample-test-probe-key-7f3a9c2e1b5d4f60a8e2c7b3";

    [Fact]
    public async Task WithoutAProbeKeyNobodyIsExemptWhateverTheySend()
    {
        using var sample = new SampleProcess();
        await sample.WaitUntilReadyAsync();

        // The old sample's shipped value, no header, an empty header: all limited at 3 per minute.
        Assert.Equal(3, await AllowedLoginsAsync(sample, 2, "change-me"));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 3, null));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 4, string.Empty));
    }

    [Fact]
    public async Task AConfiguredProbeKeyExemptsOnlyItsExactHolder()
    {
        using var sample = new SampleProcess(new Dictionary<string, string> { ["ProbeKey"] = Secret });
        await sample.WaitUntilReadyAsync();

        Assert.Equal(6, await AllowedLoginsAsync(sample, 2, Secret));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 3, null));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 4, Secret[..^1] + "x"));   // one character off
        Assert.Equal(3, await AllowedLoginsAsync(sample, 5, Secret + "x"));          // a prefix match is no match
        Assert.Equal(3, await AllowedLoginsAsync(sample, 6, Secret, twice: true));    // two headers: not a probe
        Assert.Equal(3, await AllowedLoginsAsync(sample, 7, string.Empty));
    }

    [Theory]
    [InlineData("short-secret")]
    [InlineData("change-me")]
    public async Task AShortProbeKeyStopsTheSampleAtStartNamingIt(string secret)
    {
        using var sample = new SampleProcess(new Dictionary<string, string> { ["ProbeKey"] = secret });
        Assert.True(await sample.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the sample should refuse to start");
        Assert.NotEqual(0, sample.ExitCode);
        Assert.Contains($"ProbeKey must be at least 32 characters (a random secret); got one of {secret.Length}.", sample.Output);
        Assert.DoesNotContain(secret + " ", sample.Output);   // the secret itself is not printed
    }

    [Fact]
    public void TheRepositoryShipsNoProbeKey()
    {
        string settings = File.ReadAllText(Path.Combine(SampleProcess.Directory, "appsettings.json"));
        Assert.DoesNotContain("ProbeKey", settings);
    }

    [Fact]
    public async Task TheAdminEndpointsServeOnlyAnOperatorCarryingTheAdminKey()
    {
        const string adminKey = "sample-test-admin-key-0c9d8e7f6a5b4c3d2e1f0a9b";
        using var sample = new SampleProcess(new Dictionary<string, string> { ["AdminKey"] = adminKey });
        await sample.WaitUntilReadyAsync();
        using HttpClient client = sample.ClientFrom(2);
        using HttpClient operatorClient = sample.ClientFrom(3);
        operatorClient.DefaultRequestHeaders.Add("X-Admin-Key", adminKey);
        using HttpClient stranger = sample.ClientFrom(4);
        stranger.DefaultRequestHeaders.Add("X-Admin-Key", adminKey[..^1] + "x");

        // Three logins a minute, then a 5-minute block.
        Assert.Equal(3, await AllowedLoginsAsync(sample, 2, probeKey: null));
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync("/floodgate/clients/127.0.0.2")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/floodgate/clients/127.0.0.2/unblock", null)).StatusCode);

        string state = await operatorClient.GetStringAsync("/floodgate/clients/127.0.0.2");
        Assert.Contains("\"login\"", state);
        Assert.Contains("127.0.0.2", await operatorClient.GetStringAsync("/floodgate/blocked"));
        using HttpResponseMessage unblocked = await operatorClient.PostAsync("/floodgate/clients/127.0.0.2/unblock", null);
        Assert.Contains("login", await unblocked.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/login", null)).StatusCode);
    }

    [Fact]
    public async Task WithoutAnAdminKeyNobodyIsAnOperator()
    {
        using var sample = new SampleProcess();
        await sample.WaitUntilReadyAsync();
        using HttpClient client = sample.ClientFrom(2);
        client.DefaultRequestHeaders.Add("X-Admin-Key", string.Empty);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/floodgate/blocked")).StatusCode);
    }

    [Fact]
    public async Task TheHealthEndpointRunsTheFloodgateCheckAndTheAttributePolicyLimits()
    {
        using var sample = new SampleProcess();
        await sample.WaitUntilReadyAsync();
        using HttpClient client = sample.ClientFrom(2);
        using HttpResponseMessage health = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());

        // "search" is declared with [FloodgatePolicy] in the sample: 5 per 10 seconds.
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/search?q=plum")).StatusCode);
        }

        using HttpResponseMessage refused = await client.GetAsync("/search?q=plum");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("\"search\";q=5;w=10", refused.Headers.GetValues("RateLimit-Policy").Single());

        // "exports" is a token bucket from appsettings.json (30 a minute, 10 at once) and /export costs 5 of it.
        using HttpClient exporter = sample.ClientFrom(3);
        Assert.Equal(HttpStatusCode.OK, (await exporter.GetAsync("/export")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await exporter.GetAsync("/export")).StatusCode);
        using HttpResponseMessage third = await exporter.GetAsync("/export");
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.InRange(third.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));   // five permits, one every 2 s

        // "partners" counts per X-Api-Key (20 a minute), from any address; "api" beside it counts each address (10 per 10 s, 2 grace).
        int allowed = 0;
        for (int i = 0; i < 24; i++)
        {
            using HttpClient partner = sample.ClientFrom(10 + (i % 3));   // three addresses, one key
            using var request = new HttpRequestMessage(HttpMethod.Get, "/partner/orders");
            request.Headers.Add("X-Api-Key", "sample-partner-key");
            using HttpResponseMessage response = await partner.SendAsync(request);
            allowed += response.IsSuccessStatusCode ? 1 : 0;
        }

        Assert.Equal(20, allowed);
    }

    private static async Task<int> AllowedLoginsAsync(SampleProcess sample, int host, string? probeKey, bool twice = false)
    {
        using HttpClient client = sample.ClientFrom(host);
        int allowed = 0;
        for (int i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/login");
            if (probeKey is not null)
            {
                request.Headers.TryAddWithoutValidation("X-Probe-Key", twice ? [probeKey, probeKey] : [probeKey]);
            }

            using HttpResponseMessage response = await client.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {response.StatusCode}");
            allowed += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        return allowed;
    }
}
