using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// Policies keyed by a header, a claim, a route value or the app's own reader, on a real Kestrel: one key is one client
/// whatever its address, a request without the key is its address, and the key's value is never shown or stored.
/// </summary>
public sealed class KeyTests
{
    private const string AliceKey = "sk_live_ALICE_4f1c9a77e2";
    private const string BobKey = "sk_live_BOB_90d3be1145";

    [Fact]
    public async Task AHeaderKeyIsOneClientAcrossAddressesAndARequestWithoutItIsItsAddress()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) }, FloodgateKey.Header("X-Api-Key"));
            },
            app => app.MapGet("/data", () => "data").RequireFloodgate("api"));
        using HttpClient fromTwo = server.ClientFrom(2);
        using HttpClient fromThree = server.ClientFrom(3);

        Assert.Equal(HttpStatusCode.OK, await Get(fromTwo, AliceKey));
        Assert.Equal(HttpStatusCode.OK, await Get(fromThree, AliceKey));      // the same key from another address
        Assert.Equal(HttpStatusCode.OK, await Get(fromTwo, AliceKey));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get(fromThree, AliceKey));   // the key's 3 are spent: blocked
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get(server.ClientFrom(4), AliceKey));

        Assert.Equal(HttpStatusCode.OK, await Get(fromTwo, BobKey));          // another key from the same address
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await Get(fromTwo, null));        // no key: counted as 127.0.0.2...
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, await Get(fromTwo, null));   // ...never exempt
        Assert.Equal(HttpStatusCode.OK, await Get(fromThree, null));          // 127.0.0.3 without a key is its own client
    }

    [Fact]
    public async Task AnEmptyOrRepeatedHeaderCannotPickWhoseKeyIsCounted()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) }, FloodgateKey.Header("X-Api-Key"));
            },
            app => app.MapGet("/data", () => "data").RequireFloodgate("api"));
        using HttpClient client = server.ClientFrom(2);
        Assert.Equal(HttpStatusCode.OK, await Get(client, ""));                      // empty: the address
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get(client, null));        // ...which has spent its one
        Assert.Equal(HttpStatusCode.OK, await Get(client, AliceKey));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get(client, AliceKey));

        // Two X-Api-Key headers, the victim's among them, are one key of both values: neither Alice's nor Bob's.
        using var twice = new HttpRequestMessage(HttpMethod.Get, "/data");
        twice.Headers.TryAddWithoutValidation("X-Api-Key", [BobKey, AliceKey]);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(twice)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, await Get(client, BobKey));                   // Bob's own budget untouched
    }

    [Fact]
    public async Task TheKeysValueAppearsInNoLogHeaderBodyOrFileAndItsBanSurvivesARestart()
    {
        var logs = new CapturingLoggerProvider { MinimumLevel = LogLevel.Debug };
        string root = Path.Combine(Path.GetTempPath(), "floodgate-keys-" + Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Debug" };
        var seen = new StringBuilder();
        void Policies(FloodgateOptions o) => o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1) }, FloodgateKey.Header("X-Api-Key"));
        try
        {
            await using (TestServer first = await TestServer.StartAsync(Policies, Map, contentRoot: root, settings: settings, logs: logs))
            {
                first.DeleteContentOnDispose = false;
                using HttpClient client = first.ClientFrom(2);
                for (int i = 0; i < 4; i++)
                {
                    using HttpResponseMessage answer = await Send(client, AliceKey, "text/html");
                    seen.Append(answer.Headers).Append(answer.Content.Headers).Append(await answer.Content.ReadAsStringAsync());
                }

                using HttpResponseMessage problem = await Send(client, AliceKey, "application/problem+json");
                Assert.Equal(HttpStatusCode.TooManyRequests, problem.StatusCode);
                seen.Append(problem.Headers).Append(await problem.Content.ReadAsStringAsync());
            }

            // The secret the hash is keyed with was made in the data directory, readable by the app's user only.
            string secret = Path.Combine(root, "floodgate-data", "key-secret");
            Assert.True(File.Exists(secret));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
            }

            await using (TestServer second = await TestServer.StartAsync(Policies, Map, contentRoot: root, settings: settings, logs: logs))
            {
                second.DeleteContentOnDispose = false;
                using HttpResponseMessage again = await Send(second.ClientFrom(5), AliceKey, "text/plain");
                Assert.Equal(HttpStatusCode.TooManyRequests, again.StatusCode);   // the key's block came back, from another address
                Assert.True(again.Headers.RetryAfter!.Delta > TimeSpan.FromMinutes(59));
                Assert.Equal(HttpStatusCode.OK, (await Send(second.ClientFrom(5), BobKey, "text/plain")).StatusCode);
            }

            Assert.Contains(logs.Entries, e => e.Id == 301 && e.Message.Contains("key:", StringComparison.Ordinal));   // the block, by fingerprint
            Assert.Contains(logs.Entries, e => e.Id == 300 && e.Message.Contains("key:", StringComparison.Ordinal));
            Assert.Contains(logs.Entries, e => e.Id == 305 && e.Message.Contains("key-secret", StringComparison.Ordinal));
            foreach (string value in new[] { AliceKey, BobKey })
            {
                Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(value, StringComparison.Ordinal));
                Assert.DoesNotContain(value, seen.ToString(), StringComparison.Ordinal);
                foreach (string file in Directory.EnumerateFiles(Path.Combine(root, "floodgate-data"), "*", SearchOption.AllDirectories))
                {
                    byte[] bytes = await File.ReadAllBytesAsync(file);
                    Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(value)));
                    Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(value)));
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        static void Map(WebApplication app) => app.MapGet("/data", () => "data").RequireFloodgate("api");
    }

    [Fact]
    public async Task AClaimARouteValueAndACustomReaderEachKeyTheirPolicy()
    {
        var logs = new CapturingLoggerProvider();
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("per-user", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) }, FloodgateKey.Claim("sub"));
                o.AddPolicy("per-tenant", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) }, FloodgateKey.RouteValue("tenant"));
                o.AddPolicy("custom", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) },
                    FloodgateKey.Custom(context => context.Request.Query["boom"].Count > 0 ? throw new InvalidOperationException("reader bug") : context.Request.Query["who"]));
            },
            app =>
            {
                app.MapGet("/me", () => "me").RequireFloodgate("per-user");
                app.MapGet("/t/{tenant}/orders", (string tenant) => tenant).RequireFloodgate("per-tenant");
                app.MapGet("/custom", () => "custom").RequireFloodgate("custom");
            },
            services: s => s.AddAuthentication("User").AddScheme<AuthenticationSchemeOptions, UserAuthentication>("User", null),
            logs: logs);

        // A claim: the user, from any address; anonymous requests are their address.
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(2), "/me", user: "alice"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(3), "/me", user: "alice"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetPath(server.ClientFrom(4), "/me", user: "alice"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(2), "/me", user: "bob"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(2), "/me"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(2), "/me"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetPath(server.ClientFrom(2), "/me"));

        // A route value: the tenant, whoever calls.
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(2), "/t/acme/orders"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(3), "/t/acme/orders"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetPath(server.ClientFrom(4), "/t/acme/orders"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(4), "/t/globex/orders"));

        // The app's own reader; when it throws, the request is its address (never an error, never exempt) and it is logged.
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(2), "/custom?who=x"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(3), "/custom?who=x"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetPath(server.ClientFrom(4), "/custom?who=x"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(5), "/custom?boom=1"));
        Assert.Equal(HttpStatusCode.OK, await GetPath(server.ClientFrom(5), "/custom?boom=1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetPath(server.ClientFrom(5), "/custom?boom=1"));
        Assert.Contains(logs.Entries, e => e.Id == 304 && e.Message.Contains("InvalidOperationException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AKeyInConfigurationIsReadAndOperatorsActOnAKeyWithoutItsValueInTheUrl()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app =>
            {
                app.MapGet("/data", () => "data").RequireFloodgate("api");
                app.MapGet("/open", () => "open").RequireFloodgate("by-address");
                app.MapFloodgateAdmin("/floodgate", "admins");
            },
            settings: new()
            {
                ["Floodgate:KeySecret"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()),
                ["Floodgate:Policies:api:PermitLimit"] = "5",
                ["Floodgate:Policies:api:Window"] = "1m",
                ["Floodgate:Policies:api:Key"] = "header:X-Api-Key",
                ["Floodgate:Policies:by-address:PermitLimit"] = "5",
                ["Floodgate:Policies:by-address:Window"] = "1m",
            },
            services: s =>
            {
                s.AddAuthentication("User").AddScheme<AuthenticationSchemeOptions, UserAuthentication>("User", null);
                s.AddAuthorization(a => a.AddPolicy("admins", p => p.RequireClaim("sub", "operator")));
            });
        using HttpClient admin = server.ClientFrom(90);
        admin.DefaultRequestHeaders.Add("X-Test-User", "operator");
        using HttpClient client = server.ClientFrom(2);

        Assert.Equal(HttpStatusCode.OK, await Get(client, AliceKey));
        Assert.Equal(HttpStatusCode.OK, await Get(client, AliceKey));

        using var inspect = new HttpRequestMessage(HttpMethod.Get, "/floodgate/keys");
        inspect.Headers.Add("X-Floodgate-Key", AliceKey);
        string state = await (await admin.SendAsync(inspect)).Content.ReadAsStringAsync();
        Assert.Contains("\"api\":{", state);
        Assert.DoesNotContain("by-address", state);                      // a key lives only in keyed policies
        Assert.Contains("\"count\":2", state);
        Assert.Matches("\"client\":\"key:[0-9a-f]{8}\"", state);
        Assert.DoesNotContain(AliceKey, state);

        using var blacklist = new HttpRequestMessage(HttpMethod.Post, "/floodgate/keys/blacklist");
        blacklist.Headers.Add("X-Floodgate-Key", AliceKey);
        Assert.Contains("\"blacklisted\":[\"api\"]", await (await admin.SendAsync(blacklist)).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, await Get(server.ClientFrom(7), AliceKey));
        Assert.Equal(HttpStatusCode.OK, await Get(client, BobKey));

        // The listing names the key by its hash; that id lifts it, with no value anywhere in a URL.
        string blocked = await admin.GetStringAsync("/floodgate/blocked");
        Assert.DoesNotContain(AliceKey, blocked);
        string id = System.Text.RegularExpressions.Regex.Match(blocked, "\"id\":\"(k[0-9a-f]{30})\"").Groups[1].Value;
        Assert.NotEmpty(id);
        Assert.Contains("\"unblacklisted\":[\"api\"]", await (await admin.DeleteAsync($"/floodgate/clients/{id}/blacklist")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, await Get(client, AliceKey));

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/floodgate/keys")).StatusCode);   // no header
    }

    [Fact]
    public async Task APolicyDeclaredWithAnAttributeTakesItsKeyFromAConfigurationSectionHoldingOnlyTheKey()
    {
        // GeneratedPolicyTests declares "reports" (2 a minute) with [FloodgatePolicy]: the section only keys it.
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/data", [Floodgate("reports")] () => "report"),
            settings: new() { ["Floodgate:Policies:reports:Key"] = "Header:X-Api-Key" },
            generatedPolicies: true);
        Assert.Equal(HttpStatusCode.OK, await Get(server.ClientFrom(2), AliceKey));
        Assert.Equal(HttpStatusCode.OK, await Get(server.ClientFrom(3), AliceKey));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get(server.ClientFrom(4), AliceKey));
        Assert.Equal(HttpStatusCode.OK, await Get(server.ClientFrom(4), BobKey));
    }

    [Theory]
    [InlineData("Floodgate:Policies:api:Key", "Heder:X-Api-Key", "Floodgate:Policies:api:Key must be Address, Header:<name>, Claim:<type> or Route:<name>; got 'Heder:X-Api-Key'.")]
    [InlineData("Floodgate:Policies:api:Key", "Header:X Api Key", "got 'Header:X Api Key'")]
    [InlineData("Floodgate:KeySecret", "c2hvcnQ=", "Floodgate:KeySecret must be base64 of at least 16 bytes")]
    public async Task ABadKeyOrSecretStopsStartupNamingTheSetting(string setting, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:api:PermitLimit"] = "5",
            ["Floodgate:Policies:api:Window"] = "1m",
            ["Floodgate:Policies:api:Key"] = "Header:X-Api-Key",
            [setting] = value,
        };
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(_ => { }, _ => { }, settings: settings));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c2hvcnQ=", e.Message, StringComparison.Ordinal);   // a secret's value is never echoed
    }

    [Fact]
    public async Task AKeyForAPolicyThatDoesNotExistStopsStartup()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(
            o => o.SetKey("apii", FloodgateKey.Header("X-Api-Key")).AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) }), _ => { }));
        Assert.Contains("a key (Header:X-Api-Key) is set for policy 'apii', which is not configured (configured: api)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Address", true, "Address")]
    [InlineData("Header:X-Api-Key", true, "Header:X-Api-Key")]
    [InlineData("claim:sub", true, "Claim:sub")]
    [InlineData("ROUTE:tenant", true, "Route:tenant")]
    [InlineData("Header:", false, "")]
    [InlineData("Header: x", false, "")]
    [InlineData("Cookie:session", false, "")]
    [InlineData("", false, "")]
    public void KeysParseAsConfigurationWritesThem(string text, bool valid, string shown)
    {
        Assert.Equal(valid, FloodgateKey.TryParse(text, out FloodgateKey key));
        if (valid)
        {
            Assert.Equal(shown, key.ToString());
        }

        Assert.Throws<ArgumentException>(() => FloodgateKey.Header("X Api"));
        Assert.Equal("Custom", FloodgateKey.Custom(_ => null).ToString());
    }

    private static async Task<HttpStatusCode> Get(HttpClient client, string? apiKey)
    {
        using HttpResponseMessage answer = await Send(client, apiKey, "text/plain");
        return answer.StatusCode;
    }

    private static async Task<HttpStatusCode> GetPath(HttpClient client, string path, string? user = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (user is not null)
        {
            request.Headers.Add("X-Test-User", user);
        }

        using HttpResponseMessage answer = await client.SendAsync(request);
        return answer.StatusCode;
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, string? apiKey, string accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/data");
        request.Headers.Accept.ParseAdd(accept);
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Api-Key", apiKey);
        }

        return client.SendAsync(request);
    }

    /// <summary>Signs in the user named by X-Test-User, with that name as its <c>sub</c> claim.</summary>
    private sealed class UserAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(Request.Headers["X-Test-User"] is [{ } user]
                ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", user)], "User")), "User"))
                : AuthenticateResult.NoResult());
    }
}
