using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Floodgate.AspNetCore.Challenge;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The proof-of-work challenge: tokens (signature, expiry, single use, client, policy, bad input) and the HTTP flow.</summary>
public sealed partial class ChallengeTests
{
    private static readonly IpKey s_client = IpKey.Create(IPAddress.Parse("192.0.2.50"));
    private static readonly IpKey s_other = IpKey.Create(IPAddress.Parse("192.0.2.51"));

    [Fact]
    public void ASolvedTokenIsAcceptedOnceAndOnlyFromItsClient()
    {
        (ChallengeService service, _) = Service();
        string token = service.Issue("api", s_client);
        string answer = Solve(token, 8);

        Assert.Equal(ChallengeOutcome.WrongClient, service.Verify(token, answer, s_other, out _));
        Assert.Equal(ChallengeOutcome.Solved, service.Verify(token, answer, s_client, out string? policy));
        Assert.Equal("api", policy);
        Assert.Equal(ChallengeOutcome.Replayed, service.Verify(token, answer, s_client, out _));
        Assert.Equal(1, service.PassesUsed("api", s_client));
    }

    [Fact]
    public void ForgedExpiredUnsolvedAndUnofferedTokensAreRefused()
    {
        (ChallengeService service, FakeTimeProvider time) = Service(offer: ["api"]);
        string token = service.Issue("api", s_client);
        string answer = Solve(token, 8);

        // Any changed character breaks the signature (a token from another key too).
        char[] forged = token.ToCharArray();
        forged[10] = forged[10] == 'A' ? 'B' : 'A';
        Assert.Equal(ChallengeOutcome.Forged, service.Verify(new string(forged), answer, s_client, out _));
        (ChallengeService otherSite, _) = Service();
        Assert.Equal(ChallengeOutcome.Forged, otherSite.Verify(token, answer, s_client, out _));

        Assert.Equal(ChallengeOutcome.NotSolved, service.Verify(token, Unsolved(token, 8), s_client, out _));

        string login = service.Issue("login", s_client);   // a policy that does not offer it
        Assert.Equal(ChallengeOutcome.NotOffered, service.Verify(login, Solve(login, 8), s_client, out _));

        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(1));
        Assert.Equal(ChallengeOutcome.Expired, service.Verify(token, answer, s_client, out _));
    }

    [Fact]
    public void APolicyKeyedByAnApiKeyNeverOffersTheChallenge()
    {
        // A pass lifts an address's block; a keyed policy's block belongs to the key, so a pass would promise nothing.
        var options = new FloodgateOptions();
        options.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        options.AddPolicy("partners", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) }, FloodgateKey.Header("X-Api-Key"));
        options.Challenge.Enabled = true;
        var service = new ChallengeService(options, options.Policies.Keys, new FakeTimeProvider());
        Assert.True(service.Offers("api"));
        Assert.False(service.Offers("partners"));
        string token = service.Issue("partners", s_client);
        Assert.Equal(ChallengeOutcome.NotOffered, service.Verify(token, Solve(token, options.Challenge.Difficulty), s_client, out _));
    }

    [Fact]
    public void EachClientEarnsAtMostTheConfiguredPassesAnHour()
    {
        (ChallengeService service, FakeTimeProvider time) = Service(passes: 2);
        for (int i = 0; i < 2; i++)
        {
            string token = service.Issue("api", s_client);
            Assert.Equal(ChallengeOutcome.Solved, service.Verify(token, Solve(token, 8), s_client, out _));
        }

        Assert.False(service.HasPassesLeft("api", s_client));
        string third = service.Issue("api", s_client);
        Assert.Equal(ChallengeOutcome.NoPassesLeft, service.Verify(third, Solve(third, 8), s_client, out _));
        Assert.True(service.HasPassesLeft("api", s_other));
        time.Advance(TimeSpan.FromHours(1));
        Assert.True(service.HasPassesLeft("api", s_client));
    }

    [Theory]
    [InlineData(null, "1")]
    [InlineData("", "1")]
    [InlineData("not a token", "1")]
    [InlineData("AAAA", "1")]
    [InlineData("%%%%", "1")]
    public void BadTokensAreMalformedAndNothingThrows(string? token, string answer)
    {
        (ChallengeService service, _) = Service();
        Assert.Equal(ChallengeOutcome.Malformed, service.Verify(token, answer, s_client, out _));
        Assert.Equal(ChallengeOutcome.Malformed, service.Verify(new string('A', 5_000), answer, s_client, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1e5")]
    [InlineData(" 7")]
    [InlineData("123456789012345678901")]
    public void BadAnswersAreMalformedAndNothingIsGranted(string? answer)
    {
        (ChallengeService service, _) = Service();
        string token = service.Issue("api", s_client);
        Assert.Equal(ChallengeOutcome.Malformed, service.Verify(token, answer, s_client, out _));
        Assert.Equal(0, service.PassesUsed("api", s_client));
    }

    [Fact]
    public async Task OverHttpAPersonGetsBackByWorkAndAnApiClientAndABanDoNot()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var logs = new CapturingLoggerProvider();   // this test's server alone: its entries are this test's
        await using TestServer server = await TestServer.StartAsync(
            o => ChallengeOn(o, permits: 2),
            app =>
            {
                app.UseAuthorization();
                app.MapGet("/items", () => "ok").RequireFloodgate("api");
                app.MapFloodgateAdmin("/floodgate", "operators");
            },
            time,
            services: s => s.AddAuthorization(o => o.AddPolicy("operators", p => p.RequireAssertion(c =>
                c.Resource is Microsoft.AspNetCore.Http.HttpContext http && IPAddress.Parse("127.0.0.9").Equals(http.Connection.RemoteIpAddress)))),
            logs: logs);
        using HttpClient person = server.ClientFrom(2);
        for (int i = 0; i < 3; i++)
        {
            await person.GetAsync("/items");   // the third is over the limit: a 10-minute block
        }

        // An API client (and curl's */*) gets problem+json, no challenge.
        using HttpResponseMessage api = await person.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, api.StatusCode);
        Assert.DoesNotContain("floodgate-challenge", await api.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A browser gets the page with a challenge; garbage and unsolved answers change nothing.
        string token = await ChallengeTokenAsync(person);
        Assert.Equal(HttpStatusCode.BadRequest, (await Answer(person, "garbage", "x")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Answer(person, "garbage", "12")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Answer(person, token + "A", "12")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Answer(person, token, Unsolved(token, 8))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await person.PostAsync("/.floodgate/challenge", new StringContent(new string('x', 10_000)))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await person.GetAsync("/items")).StatusCode);

        // Another client cannot use this client's challenge.
        string answer = Solve(token, 8);
        Assert.Equal(HttpStatusCode.Forbidden, (await Answer(server.ClientFrom(3), token, answer)).StatusCode);

        // Solved: the block is lifted and a fresh window opens; the block count stays.
        using (HttpResponseMessage passed = await Answer(person, token, answer))
        {
            Assert.Equal(HttpStatusCode.OK, passed.StatusCode);
            Assert.Equal("{\"passed\":true,\"policy\":\"api\"}", await passed.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.OK, (await person.GetAsync("/items")).StatusCode);
        FloodgateLimiter limiter = server.Services.GetRequiredService<FloodgateService>().Limiters["api"];
        Assert.Equal(1, limiter.Inspect(IPAddress.Parse("127.0.0.2")).BlockCount);
        Assert.Equal(HttpStatusCode.Forbidden, (await Answer(person, token, answer)).StatusCode);   // a replay
        using (JsonDocument state = JsonDocument.Parse(await server.ClientFrom(9).GetStringAsync("/floodgate/clients/127.0.0.2")))
        {
            Assert.Equal(1, state.RootElement.GetProperty("api").GetProperty("challengePasses").GetInt32());   // the admin endpoints show passes per client
        }

        // A repeat offender escalates as before; a blacklisted client is offered nothing.
        limiter.Blacklist(IPAddress.Parse("127.0.0.4"));
        using var page = new HttpRequestMessage(HttpMethod.Get, "/items");
        page.Headers.Accept.ParseAdd("text/html");
        using HttpResponseMessage banned = await server.ClientFrom(4).SendAsync(page);
        Assert.Equal(HttpStatusCode.Forbidden, banned.StatusCode);
        Assert.DoesNotContain("floodgate-challenge", await banned.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);   // nothing a client sent made the server fail
        Assert.Contains(logs.Entries, e => e.Id == 321);   // solved
        Assert.Contains(logs.Entries, e => e.Id == 322);   // refused
    }

    [Fact]
    public async Task AChunkedBodyOverTheCapIsRefusedHoweverGoodItsAnswer()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => ChallengeOn(o, permits: 1),
            app => app.MapGet("/items", () => "ok").RequireFloodgate("api"));
        using HttpClient person = server.ClientFrom(2);
        await person.GetAsync("/items");
        await person.GetAsync("/items");   // blocked for 10 minutes
        string token = await ChallengeTokenAsync(person);
        string answer = Solve(token, 8);

        // A right answer with 1 MB of padding after it, chunked: no Content-Length to refuse it by. Only the first
        // 2 KB may be read, so it is malformed, and the block stays.
        string form = $"token={token}&answer={answer}&pad={new string('x', 1 << 20)}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/.floodgate/challenge")
        {
            Content = new StreamContent(new NonSeekableStream(Encoding.ASCII.GetBytes(form))),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
        request.Headers.TransferEncodingChunked = true;
        HttpStatusCode status;
        try
        {
            using HttpResponseMessage response = await person.SendAsync(request);
            status = response.StatusCode;
        }
        catch (HttpRequestException)
        {
            status = HttpStatusCode.BadRequest;   // the server may close the connection before the client has sent it all
        }

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await server.ClientFrom(2).GetAsync("/items")).StatusCode);

        // The same answer in a small body is accepted: the refusal was the size.
        Assert.Equal(HttpStatusCode.OK, (await Answer(server.ClientFrom(2), token, answer)).StatusCode);
    }

    /// <summary>A body whose length the client cannot know in advance, so that it is sent chunked.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task BadChallengeSettingsStopStartupNamingThem()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.Challenge.Enabled = true;
                o.Challenge.Difficulty = 40;
                o.Challenge.Path = "challenge";
                o.Challenge.SigningKey = "c2hvcnQ=";
            },
            _ => { }));
        Assert.Contains("Floodgate:Challenge:Difficulty must be between 1 and 30 (leading zero bits); got 40.", error.Message, StringComparison.Ordinal);
        Assert.Contains("Floodgate:Challenge:Path must be a path starting with '/'; got 'challenge'.", error.Message, StringComparison.Ordinal);
        Assert.Contains("Floodgate:Challenge:SigningKey must be base64 of at least 32 bytes", error.Message, StringComparison.Ordinal);
    }

    internal static string Solve(string token, int bits)
    {
        for (ulong n = 0; ; n++)
        {
            string answer = n.ToString(CultureInfo.InvariantCulture);
            if (ChallengeService.Solves(token, answer, bits))
            {
                return answer;
            }
        }
    }

    private static string Unsolved(string token, int bits)
    {
        for (ulong n = 0; ; n++)
        {
            string answer = n.ToString(CultureInfo.InvariantCulture);
            if (!ChallengeService.Solves(token, answer, bits))
            {
                return answer;
            }
        }
    }

    private static (ChallengeService Service, FakeTimeProvider Time) Service(string[]? offer = null, int passes = 3)
    {
        var options = new FloodgateOptions();
        options.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        options.AddPolicy("login", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        options.Challenge.Enabled = true;
        options.Challenge.Difficulty = 8;
        options.Challenge.MaxPassesPerHour = passes;
        options.Challenge.Policies.AddRange(offer ?? []);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        return (new ChallengeService(options, options.Policies.Keys, time), time);
    }

    /// <summary>An "api" policy of <paramref name="permits"/> a minute with a 10-minute block, offering the challenge at difficulty 8.</summary>
    private static void ChallengeOn(FloodgateOptions o, int permits)
    {
        o.Persistence = false;
        o.AddPolicy("api", new FloodgatePolicy { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) });
        o.Challenge.Enabled = true;
        o.Challenge.Difficulty = 8;
    }

    private static async Task<string> ChallengeTokenAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/items");
        request.Headers.Accept.ParseAdd("text/html");
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Match token = TokenAttribute().Match(await response.Content.ReadAsStringAsync());
        Assert.True(token.Success, "the page has no challenge");
        return token.Groups[1].Value;
    }

    private static Task<HttpResponseMessage> Answer(HttpClient client, string token, string answer) =>
        client.PostAsync("/.floodgate/challenge", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["answer"] = answer }));

    [GeneratedRegex("data-token=\"([A-Za-z0-9_-]+)\"")]
    private static partial Regex TokenAttribute();
}
