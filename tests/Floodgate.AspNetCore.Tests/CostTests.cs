using System.Net;
using Microsoft.AspNetCore.Builder;

namespace Floodgate.AspNetCore.Tests;

/// <summary>Endpoints that cost more than one permit, on a real Kestrel: all the permits or none, and RateLimit counts permits.</summary>
public sealed class CostTests
{
    private static void Policies(FloodgateOptions o)
    {
        o.Persistence = false;
        o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) });
        o.AddPolicy("bucket", new FloodgatePolicy { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 60, Window = TimeSpan.FromMinutes(1), Burst = 6 });
    }

    [Fact]
    public async Task AnExpensiveEndpointSpendsItsCostAndIsRefusedWithoutChargeWhenLessIsLeft()
    {
        await using TestServer server = await TestServer.StartAsync(Policies, app =>
        {
            app.MapGet("/search", () => "results").RequireFloodgate("api");
            app.MapGet("/export", () => "export").RequireFloodgate("api", cost: 5);
            app.MapGet("/report", [Floodgate("api", Cost = 3)] () => "report");
        });
        using HttpClient client = server.ClientFrom(2);

        async Task<string> Expect(string path, HttpStatusCode status)
        {
            using HttpResponseMessage answer = await client.GetAsync(path);
            Assert.Equal(status, answer.StatusCode);
            return Assert.Single(answer.Headers.GetValues("RateLimit"));
        }

        Assert.EndsWith("r=5;t=60", await Expect("/export", HttpStatusCode.OK));            // 10 - 5
        Assert.EndsWith("r=2;t=60", await Expect("/report", HttpStatusCode.OK));            // - 3
        Assert.EndsWith("r=0;t=60", await Expect("/export", HttpStatusCode.TooManyRequests)); // 5 asked, 2 left: refused...
        Assert.EndsWith("r=1;t=60", await Expect("/search", HttpStatusCode.OK));            // ...and nothing was charged
        Assert.EndsWith("r=0;t=60", await Expect("/search", HttpStatusCode.OK));
        await Expect("/search", HttpStatusCode.TooManyRequests);

        using HttpClient other = server.ClientFrom(3);                                      // per client, as ever
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/export")).StatusCode);
    }

    [Fact]
    public async Task OnATokenBucketACostIsThatManyPermitsOfTheBurst()
    {
        await using TestServer server = await TestServer.StartAsync(Policies, app => app.MapGet("/export", () => "export").RequireFloodgate("bucket", cost: 4));
        using HttpClient client = server.ClientFrom(2);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/export")).StatusCode);
        using HttpResponseMessage refused = await client.GetAsync("/export");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);   // 2 left of 6: two more permits, one a second
        server.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/export")).StatusCode);
    }

    [Theory]
    [InlineData("api", 11, "must be between 1 and 10")]
    [InlineData("bucket", 7, "must be between 1 and 6")]
    [InlineData("api", 0, "must be between 1 and 10")]
    public async Task ACostThePolicyCanNeverAdmitStopsTheApp(string policy, int cost, string expected)
    {
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => TestServer.StartAsync(Policies,
            app => app.MapGet("/export", () => "export").RequireFloodgate(policy, cost)));
        Assert.Contains($"[Floodgate(\"{policy}\")] Cost on HTTP: GET /export {expected} (the policy's largest request); got {cost}", error.Message, StringComparison.Ordinal);
    }
}
