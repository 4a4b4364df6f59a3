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

    [Fact]
    public async Task ACostInConfigurationReplacesTheCodesForTheEndpointItNames()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app =>
            {
                app.MapGet("/search", () => "results").RequireFloodgate("api");
                app.MapGet("/export", () => "export").RequireFloodgate("api", cost: 2);
                app.MapPost("/export", () => "posted").RequireFloodgate("api");
                app.MapGet("/orders/{id:int}", (int id) => id).RequireFloodgate("api");
            },
            settings: new()
            {
                ["Floodgate:Persistence"] = "false",
                ["Floodgate:Policies:api:PermitLimit"] = "10",
                ["Floodgate:Policies:api:Window"] = "1m",
                ["Floodgate:Policies:api:Costs:0:Endpoint"] = "GET /export",
                ["Floodgate:Policies:api:Costs:0:Cost"] = "6",
                ["Floodgate:Policies:api:Costs:1:Endpoint"] = "/orders/{id:int}",
                ["Floodgate:Policies:api:Costs:1:Cost"] = "3",
            });
        using HttpClient client = server.ClientFrom(2);
        async Task<string> Remaining(HttpMethod method, string path)
        {
            using HttpResponseMessage answer = await client.SendAsync(new HttpRequestMessage(method, path));
            return answer.Headers.GetValues("RateLimit").Single();
        }

        Assert.EndsWith("r=4;t=60", await Remaining(HttpMethod.Get, "/export"));     // 6 from configuration, not the code's 2
        Assert.EndsWith("r=3;t=60", await Remaining(HttpMethod.Post, "/export"));    // the entry names GET only
        Assert.EndsWith("r=0;t=60", await Remaining(HttpMethod.Get, "/orders/7"));   // 3, matched by route pattern
        Assert.EndsWith("r=0;t=60", await Remaining(HttpMethod.Get, "/search"));     // refused: nothing left
    }

    [Theory]
    [InlineData("GET /exprot", "5", "Floodgate:Policies:api:Costs:0:Endpoint 'GET /exprot' matches no endpoint that uses policy 'api'")]
    [InlineData("/export", "11", "Floodgate:Policies:api:Costs:0:Cost must be between 1 and 10 (the policy's largest request); got 11")]
    [InlineData("/export", "five", "Floodgate:Policies:api:Costs:0 must have an Endpoint (a route pattern, optionally after a method: \"GET /export\") and a whole-number Cost; got Endpoint '/export', Cost 'five'.")]
    public async Task ABadCostInConfigurationStopsTheAppNamingIt(string endpoint, string cost, string expected)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/export", () => "export").RequireFloodgate("api"),
            settings: new()
            {
                ["Floodgate:Policies:api:PermitLimit"] = "10",
                ["Floodgate:Policies:api:Window"] = "1m",
                ["Floodgate:Policies:api:Costs:0:Endpoint"] = endpoint,
                ["Floodgate:Policies:api:Costs:0:Cost"] = cost,
            }));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
