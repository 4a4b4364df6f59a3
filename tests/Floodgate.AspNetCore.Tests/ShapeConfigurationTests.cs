using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The shapes from configuration (<c>"Algorithm": "TokenBucket"</c>, <c>"Burst": 5</c>), on a real Kestrel, and the startup errors for knobs a shape does not have.</summary>
public sealed class ShapeConfigurationTests
{
    [Fact]
    public async Task ATokenBucketFromConfigurationAdmitsItsBurstAndSaysWhenTheNextPermitComes()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            settings: new()
            {
                ["Floodgate:Policies:api:Algorithm"] = "TokenBucket",
                ["Floodgate:Policies:api:PermitLimit"] = "60",
                ["Floodgate:Policies:api:Window"] = "1m",
                ["Floodgate:Policies:api:Burst"] = "5",
                ["Floodgate:Policies:search:Algorithm"] = "SlidingWindow",
                ["Floodgate:Policies:search:PermitLimit"] = "10",
                ["Floodgate:Policies:search:Window"] = "10s",
            });
        FloodgateOptions options = server.Services.GetRequiredService<IOptions<FloodgateOptions>>().Value;
        Assert.Equal(FloodgateAlgorithm.TokenBucket, options.Policies["api"].Algorithm);
        Assert.Equal(5, options.Policies["api"].Burst);
        Assert.Equal(FloodgateAlgorithm.SlidingWindow, options.Policies["search"].Algorithm);

        using HttpClient client = server.ClientFrom(2);
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage allowed = await client.GetAsync("/items");
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);

            // r: what the bucket admits now; t: seconds until it is full again (one permit a second).
            Assert.EndsWith($"\"api\";r={4 - i};t={i + 1}", Assert.Single(allowed.Headers.GetValues("RateLimit")), StringComparison.Ordinal);
        }

        using HttpResponseMessage refused = await client.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);   // the next permit, not a whole minute
        server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/items")).StatusCode);
    }

    [Theory]
    [InlineData("Algorithm", "LeakyBucket", "Floodgate:Policies:api:Algorithm")]
    [InlineData("Burst", "5", "Burst applies only to Algorithm TokenBucket")]
    [InlineData("AccumulateRequests", "true", "AccumulateRequests applies only to Algorithm FixedWindow")]
    public async Task AKnobTheShapeDoesNotHaveStopsTheAppNamingIt(string setting, string value, string expected)
    {
        string algorithm = setting == "AccumulateRequests" ? "SlidingWindow" : "FixedWindow";
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            settings: new()
            {
                ["Floodgate:Policies:api:PermitLimit"] = "10",
                ["Floodgate:Policies:api:Window"] = "10s",
                ["Floodgate:Policies:api:Algorithm"] = setting == "Algorithm" ? value : algorithm,
                [$"Floodgate:Policies:api:{setting}"] = value,
            }));
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Contains(value, error.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
