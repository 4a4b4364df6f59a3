using System.Net;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// What applies app-wide, on a real Kestrel: the denylist and blacklistings reach every endpoint that is not
/// [DisableFloodgate], with or without a policy, and a blacklisting under one policy refuses the address everywhere.
/// </summary>
public sealed class AppWideTests
{
    private static Task<TestServer> StartAsync() => TestServer.StartAsync(
        o =>
        {
            o.Persistence = false;
            o.Denylist.Add("127.0.0.66");
            o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) });
            o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5), BlockLimit = 0 });
            o.AddPolicy("partners", new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) }, FloodgateKey.Header("X-Api-Key"));
        },
        app =>
        {
            app.MapGet("/items", () => "items").RequireFloodgate("api");
            app.MapPost("/login", () => "nope").RequireFloodgate("login");
            app.MapGet("/partners", () => "partners").RequireFloodgate("partners");
            app.MapGet("/about", () => "about");                               // no policy
            app.MapGet("/health", () => "ok").DisableFloodgate();
            app.MapFloodgateAdmin("/floodgate", "anyone").AllowAnonymous();
        },
        services: s => s.AddAuthorization(a => a.AddPolicy("anyone", p => p.RequireAssertion(_ => true))));

    [Fact]
    public async Task ADenylistedAddressIsRefusedOnEveryEndpointWithOrWithoutAPolicyButNotOnDisabledOnes()
    {
        await using TestServer server = await StartAsync();
        using HttpClient denied = server.ClientFrom(66);
        Assert.Equal(HttpStatusCode.Forbidden, (await denied.GetAsync("/about")).StatusCode);       // no policy
        Assert.Equal(HttpStatusCode.Forbidden, (await denied.GetAsync("/nowhere")).StatusCode);     // no endpoint
        Assert.Equal(HttpStatusCode.Forbidden, (await denied.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await denied.GetAsync("/health")).StatusCode);             // [DisableFloodgate]
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(67).GetAsync("/about")).StatusCode);

        // A runtime entry (the admin endpoint) applies to endpoints without a policy too, and so does its removal.
        using HttpClient admin = server.ClientFrom(90);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/floodgate/denylist?network=127.0.0.68", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.ClientFrom(68).GetAsync("/about")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("/floodgate/denylist?network=127.0.0.68")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(68).GetAsync("/about")).StatusCode);
    }

    [Fact]
    public async Task AnAddressBlacklistedUnderOnePolicyIsRefusedEverywhereUntilLiftedThere()
    {
        await using TestServer server = await StartAsync();
        using HttpClient client = server.ClientFrom(70);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/login", null)).StatusCode);   // BlockLimit 0: the first violation blacklists

        foreach (string path in new[] { "/items", "/about", "/nowhere", "/partners" })
        {
            using HttpResponseMessage refused = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(71).GetAsync("/items")).StatusCode);   // others untouched

        // The blacklisting belongs to "login": lifted there, it is lifted everywhere.
        using HttpClient admin = server.ClientFrom(90);
        Assert.Contains("\"unblacklisted\":[\"login\"]", await (await admin.DeleteAsync("/floodgate/clients/127.0.0.70/blacklist")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/about")).StatusCode);
    }

    [Fact]
    public async Task AKeysBlacklistingStaysWithTheKey()
    {
        await using TestServer server = await StartAsync();
        using HttpClient admin = server.ClientFrom(90);
        using var blacklist = new HttpRequestMessage(HttpMethod.Post, "/floodgate/keys/blacklist");
        blacklist.Headers.Add("X-Floodgate-Key", "bad-partner");
        Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(blacklist)).StatusCode);

        using HttpClient client = server.ClientFrom(72);
        using var keyed = new HttpRequestMessage(HttpMethod.Get, "/partners");
        keyed.Headers.Add("X-Api-Key", "bad-partner");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(keyed)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/about")).StatusCode);   // the address is not the key
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);
    }
}
