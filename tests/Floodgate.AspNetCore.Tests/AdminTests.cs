using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

public sealed class AdminTests
{
    [Fact]
    public async Task OperatorsManageClientsAndListsThroughTheProtectedAdminEndpoints()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) });
            },
            app =>
            {
                app.MapGet("/items", () => "items").RequireFloodgate("api");
                app.MapFloodgateAdmin("/floodgate", "admins");
            },
            services: s =>
            {
                s.AddAuthentication("Header").AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>("Header", null);
                s.AddAuthorization(a => a.AddPolicy("admins", p => p.RequireClaim("role", "admin")));
            });
        using HttpClient admin = server.ClientFrom(90);
        admin.DefaultRequestHeaders.Add("X-Admin", "yes");
        using HttpClient stranger = server.ClientFrom(91);
        using HttpClient client = server.ClientFrom(70);

        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.PostAsync("/floodgate/clients/127.0.0.70/blacklist", null)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/floodgate/clients/127.0.0.70/blacklist", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/items")).StatusCode);
        string state = await admin.GetStringAsync("/floodgate/clients/127.0.0.70");
        Assert.Contains("\"blacklisted\":true", state);
        Assert.Contains("127.0.0.70", await admin.GetStringAsync("/floodgate/blocked"));

        Assert.Contains("\"unblacklisted\":[\"api\"]", await (await admin.DeleteAsync("/floodgate/clients/127.0.0.70/blacklist")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/floodgate/denylist?network=127.0.0.71/32", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.ClientFrom(71).GetAsync("/items")).StatusCode);
        Assert.Contains("127.0.0.71/32", await admin.GetStringAsync("/floodgate/denylist"));
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("/floodgate/denylist?network=127.0.0.71")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(71).GetAsync("/items")).StatusCode);

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/floodgate/clients/not-an-ip")).StatusCode);

        // An entry for every address of a family, in any spelling, would exempt (or refuse) all of them: refused on
        // both lists, and nothing changes.
        foreach (string list in new[] { "allowlist", "denylist" })
        {
            foreach (string everyone in new[] { "0.0.0.0/0", "::/0", "::/1", "::/8", "::/64", "::ffff:0.0.0.0/95", "::ffff:0.0.0.0/96", "64:ff9b::/96" })
            {
                HttpResponseMessage refused = await admin.PostAsync($"/floodgate/{list}?network=" + Uri.EscapeDataString(everyone), null);
                Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
                Assert.Contains("covers every address of a family", await refused.Content.ReadAsStringAsync());
            }

            Assert.Equal("[]", await admin.GetStringAsync($"/floodgate/{list}"));
        }

        // Legacy IPv4 spellings name other addresses than an operator reads: refused as addresses and networks.
        foreach (string legacy in new[] { "127.1", "0x7f.0.0.1", "2130706433", "127.000.000.001", "1.2.3/24" })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/floodgate/clients/" + Uri.EscapeDataString(legacy))).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync("/floodgate/denylist?network=" + Uri.EscapeDataString(legacy), null)).StatusCode);
        }

        Assert.Equal("[]", await admin.GetStringAsync("/floodgate/denylist"));
    }

    /// <summary>Authenticates requests carrying X-Admin: yes as an admin.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(Request.Headers["X-Admin"] == "yes"
                ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim("role", "admin")], "Header")), "Header"))
                : AuthenticateResult.NoResult());
    }
}
