using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// draft-ietf-httpapi-ratelimit-headers-11 on a real Kestrel: its problem types with violated-policies, the jitter on
/// t it recommends (off by default, fixed per client), and pk only for key-counted policies.
/// </summary>
public sealed class RateLimitDraftTests
{
    private const string Types = "https://iana.org/assignments/http-problem-types#";

    private static Task<TestServer> StartAsync(Action<FloodgateOptions>? more = null, Action<IServiceCollection>? services = null) => TestServer.StartAsync(
        o =>
        {
            o.Persistence = false;
            o.Denylist.Add("127.0.0.66");
            o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
            o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10), BlockLimit = 1 });
            o.AddPolicy("partners", new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) }, FloodgateKey.Header("X-Api-Key"));
            more?.Invoke(o);
        },
        app =>
        {
            app.MapGet("/items", () => "items").RequireFloodgate("api");
            app.MapPost("/login", () => "nope").RequireFloodgate("login");
            app.MapGet("/partners", () => "partners").RequireFloodgate("partners", "api");
        },
        services: services);

    private static async Task<JsonDocument> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    private static string[] Violated(JsonDocument problem) =>
        problem.RootElement.GetProperty("violated-policies").EnumerateArray().Select(p => p.GetString()!).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // through the app's problem details service (AddProblemDetails)
    public async Task EachRefusalHasTheDraftsProblemTypeAndNamesTheViolatedPolicy(bool problemDetailsService)
    {
        await using TestServer server = await StartAsync(services: problemDetailsService ? s => s.AddProblemDetails() : null);

        using HttpClient client = server.ClientFrom(2);
        await client.GetAsync("/items");
        using (JsonDocument exceeded = await ProblemAsync(await client.GetAsync("/items")))
        {
            Assert.Equal(Types + "quota-exceeded", exceeded.RootElement.GetProperty("type").GetString());
            Assert.Equal(["api"], Violated(exceeded));
        }

        // A block earned by violations, then the blacklisting it escalates to: abnormal usage.
        using HttpClient offender = server.ClientFrom(3);
        await offender.PostAsync("/login", null);
        using (JsonDocument blocked = await ProblemAsync(await offender.PostAsync("/login", null)))
        {
            Assert.Equal(Types + "abnormal-usage-detected", blocked.RootElement.GetProperty("type").GetString());
            Assert.Equal(["login"], Violated(blocked));
        }

        // The denylist is an operator's choice, not a quota: about:blank, and no violated-policies.
        using (JsonDocument denied = await ProblemAsync(await server.ClientFrom(66).GetAsync("/items")))
        {
            Assert.Equal("about:blank", denied.RootElement.GetProperty("type").GetString());
            Assert.False(denied.RootElement.TryGetProperty("violated-policies", out _));
        }
    }

    [Fact]
    public async Task TheGlobalGuardAnswersTemporaryReducedCapacity()
    {
        await using TestServer server = await StartAsync(o => o.GlobalLimit = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        await server.ClientFrom(2).GetAsync("/items");
        using HttpResponseMessage busy = await server.ClientFrom(3).GetAsync("/items");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
        using JsonDocument problem = await ProblemAsync(busy);
        Assert.Equal(Types + "temporary-reduced-capacity", problem.RootElement.GetProperty("type").GetString());
        Assert.Equal(["global"], Violated(problem));
    }

    [Fact]
    public async Task JitterIsOffByDefaultAndWhenSetEachClientHasItsOwnFixedShareInTAndRetryAfter()
    {
        await using (TestServer exact = await StartAsync())
        {
            using HttpResponseMessage answer = await exact.ClientFrom(2).GetAsync("/items");
            Assert.Equal("\"api\";r=0;t=60", answer.Headers.GetValues("RateLimit").Single());
        }

        await using TestServer server = await StartAsync(o => o.RateLimitResetJitter = TimeSpan.FromSeconds(30));
        var shares = new HashSet<long>();
        for (int host = 10; host < 30; host++)
        {
            using HttpClient client = server.ClientFrom(host);
            using HttpResponseMessage first = await client.GetAsync("/items");
            long t = long.Parse(first.Headers.GetValues("RateLimit").Single().Split(";t=")[1], CultureInfo.InvariantCulture);
            Assert.InRange(t, 60, 90);
            shares.Add(t - 60);

            // The same client, the same share: on its refusal, t and Retry-After carry it alike.
            using HttpResponseMessage refused = await client.GetAsync("/items");
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal($"\"api\";r=0;t={t}", refused.Headers.GetValues("RateLimit").Single());
            Assert.Equal(TimeSpan.FromSeconds(t), refused.Headers.RetryAfter!.Delta);
        }

        Assert.True(shares.Count >= 5, $"20 clients spread over only {shares.Count} shares of the jitter");
    }

    [Fact]
    public async Task OnlyAKeyCountedPolicyCarriesAPartitionKeyAndItTellsKeysApartWithoutShowingThem()
    {
        await using TestServer server = await StartAsync();
        string Pk(HttpResponseMessage answer, string policy) =>
            answer.Headers.GetValues("RateLimit").Single().Split(", ").Single(item => item.StartsWith($"\"{policy}\"", StringComparison.Ordinal));

        using HttpClient client = server.ClientFrom(2);
        using var first = new HttpRequestMessage(HttpMethod.Get, "/partners") { Headers = { { "X-Api-Key", "key-one-secret-value" } } };
        using HttpResponseMessage one = await client.SendAsync(first);
        string partners = Pk(one, "partners");
        Assert.Matches("^\"partners\";r=4;t=60;pk=:[A-Za-z0-9+/]{11}=:$", partners);
        Assert.DoesNotContain("pk=", Pk(one, "api"), StringComparison.Ordinal);   // an address partition: no pk
        Assert.DoesNotContain("key-one", one.Headers.GetValues("RateLimit").Single(), StringComparison.Ordinal);

        using var again = new HttpRequestMessage(HttpMethod.Get, "/partners") { Headers = { { "X-Api-Key", "key-one-secret-value" } } };
        using HttpResponseMessage sameKey = await server.ClientFrom(3).SendAsync(again);
        Assert.Equal(partners.Split(";pk=")[1], Pk(sameKey, "partners").Split(";pk=")[1]);   // the key's partition, from any address

        using var other = new HttpRequestMessage(HttpMethod.Get, "/partners") { Headers = { { "X-Api-Key", "key-two-secret-value" } } };
        using HttpResponseMessage otherKey = await server.ClientFrom(4).SendAsync(other);
        Assert.NotEqual(partners.Split(";pk=")[1], Pk(otherKey, "partners").Split(";pk=")[1]);

        using HttpResponseMessage noKey = await server.ClientFrom(5).GetAsync("/partners");   // counted by its address
        Assert.DoesNotContain("pk=", noKey.Headers.GetValues("RateLimit").Single(), StringComparison.Ordinal);
    }
}
