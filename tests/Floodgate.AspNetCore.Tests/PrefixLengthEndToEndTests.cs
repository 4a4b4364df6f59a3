using System.Net;
using Microsoft.AspNetCore.Builder;

namespace Floodgate.AspNetCore.Tests;

/// <summary>A per-address policy and a per-/24 policy on one endpoint, from configuration, through Kestrel on 127.x addresses.</summary>
public sealed class PrefixLengthEndToEndTests
{
    [Fact]
    public async Task APerNetworkPolicyBesideAPerAddressOneCountsTheNetworkOnce()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/items", () => "items").RequireFloodgate("each", "network"),
            settings: new()
            {
                ["Floodgate:Policies:each:PermitLimit"] = "3",
                ["Floodgate:Policies:each:Window"] = "1m",
                ["Floodgate:Policies:network:PermitLimit"] = "5",
                ["Floodgate:Policies:network:Window"] = "1m",
                ["Floodgate:Policies:network:Ipv4PrefixLength"] = "24",
            });
        using HttpClient first = server.ClientFrom(2);    // 127.0.0.2
        using HttpClient second = server.ClientFrom(3);   // 127.0.0.3, the same /24

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage ok = await first.GetAsync("/items");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.EndsWith($"\"network\";r={4 - i};t=60", Assert.Single(ok.Headers.GetValues("RateLimit")), StringComparison.Ordinal);
        }

        using HttpResponseMessage ownLimit = await first.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, ownLimit.StatusCode);     // its own three are spent
        Assert.StartsWith("\"each\";r=0", Assert.Single(ownLimit.Headers.GetValues("RateLimit")), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/items")).StatusCode);
        using HttpResponseMessage networkLimit = await second.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, networkLimit.StatusCode);  // its own budget has one left; the /24's five are spent
        Assert.Contains("\"network\";r=0", Assert.Single(networkLimit.Headers.GetValues("RateLimit")), StringComparison.Ordinal);
    }
}
