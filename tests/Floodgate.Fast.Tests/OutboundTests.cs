using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>Outbound limits per destination host, against real Kestrel servers on 127.0.0.1.</summary>
public sealed class OutboundTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(Harness.Start);
    private WebApplication _a = null!;
    private WebApplication _b = null!;
    private int _hits;

    public int PortA { get; private set; }

    public int PortB { get; private set; }

    public async Task InitializeAsync()
    {
        (_a, PortA) = await StartServerAsync();
        (_b, PortB) = await StartServerAsync();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private async Task<(WebApplication App, int Port)> StartServerAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        WebApplication app = builder.Build();
        app.MapGet("/", () => { Interlocked.Increment(ref _hits); return "ok"; });
        app.MapGet("/busy/{seconds:int}", (int seconds, HttpContext context) =>
        {
            Interlocked.Increment(ref _hits);
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.StatusCode(429);
        });
        app.MapGet("/unavailable", (HttpContext context) =>
        {
            Interlocked.Increment(ref _hits);
            context.Response.Headers.RetryAfter = (Harness.Start + TimeSpan.FromMinutes(2)).ToString("R");
            return Results.StatusCode(503);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address).Port);
    }

    private HttpClient Client(FloodgateOutboundOptions options, int? routeAllTo = null)
    {
        options.TimeProvider = _time;
        var sockets = new SocketsHttpHandler();
        if (routeAllTo is int port)
        {
            // Any host name reaches the loopback server: real requests to names that need no DNS.
            sockets.ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
                return new NetworkStream(socket, ownsSocket: true);
            };
        }

        return new HttpClient(new FloodgateOutboundHandler(options) { InnerHandler = sockets });
    }

    private static FloodgatePolicy PerMinute(int permits) => new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) };

    [Fact]
    public async Task HostsHaveSeparateBudgets()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions { DefaultPolicy = PerMinute(2) });
        await client.GetStringAsync($"http://127.0.0.1:{PortA}/");
        await client.GetStringAsync($"http://127.0.0.1:{PortA}/");
        var error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync($"http://127.0.0.1:{PortA}/"));
        Assert.Equal($"127.0.0.1:{PortA}", error.Host);
        Assert.Equal(TimeSpan.FromSeconds(15), error.RetryAfter);
        Assert.Equal("ok", await client.GetStringAsync($"http://127.0.0.1:{PortB}/"));
        Assert.Equal(3, _hits);   // the refused call was never sent
    }

    [Fact]
    public async Task AHostOverItsLimitBacksOffThenRecovers()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions
        {
            DefaultPolicy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromSeconds(1) },
            Backoff = TimeSpan.FromSeconds(15),
        });
        string url = $"http://127.0.0.1:{PortA}/";
        await client.GetStringAsync(url);
        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync(url));   // enters backoff

        _time.Advance(TimeSpan.FromSeconds(10));   // its window is long over, the backoff is not
        var during = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync(url));
        Assert.Equal(TimeSpan.FromSeconds(5), during.RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("ok", await client.GetStringAsync(url));
        Assert.Equal(2, _hits);
    }

    [Fact]
    public async Task UpstreamRetryAfterPutsTheHostIntoBackoffCappedByMaxUpstreamBackoff()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions { DefaultPolicy = PerMinute(100), MaxUpstreamBackoff = TimeSpan.FromMinutes(10) });
        HttpResponseMessage busy = await client.GetAsync($"http://127.0.0.1:{PortA}/busy/30");
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);   // the caller sees the upstream answer
        var error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync($"http://127.0.0.1:{PortA}/"));
        Assert.Equal(TimeSpan.FromSeconds(30), error.RetryAfter);

        await client.GetAsync($"http://127.0.0.1:{PortB}/busy/7200");    // two hours asked, ten minutes at most
        error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync($"http://127.0.0.1:{PortB}/"));
        Assert.Equal(TimeSpan.FromMinutes(10), error.RetryAfter);
        Assert.Equal(2, _hits);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("ok", await client.GetStringAsync($"http://127.0.0.1:{PortA}/"));
    }

    [Fact]
    public async Task UpstreamUnavailableWithARetryAfterDateBacksOffUntilThen()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions { DefaultPolicy = PerMinute(100) });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync($"http://127.0.0.1:{PortA}/unavailable")).StatusCode);
        var error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync($"http://127.0.0.1:{PortA}/"));
        Assert.Equal(TimeSpan.FromMinutes(2), error.RetryAfter);
    }

    [Fact]
    public async Task ExactWildcardAndDefaultPoliciesApplyByHost()
    {
        var options = new FloodgateOutboundOptions { DefaultPolicy = PerMinute(3) }
            .AddHost("api.example.test", PerMinute(1))
            .AddHost("*.cdn.example.test", PerMinute(2));
        using HttpClient client = Client(options, routeAllTo: PortA);

        await client.GetStringAsync("http://api.example.test/");
        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync("http://api.example.test/"));

        await client.GetStringAsync("http://a.cdn.example.test/");
        await client.GetStringAsync("http://a.cdn.example.test/");
        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync("http://a.cdn.example.test/"));
        await client.GetStringAsync("http://x.y.cdn.example.test/");   // a budget of its own under the same wildcard

        for (int i = 0; i < 3; i++)
        {
            await client.GetStringAsync("http://other.example.test/");
        }

        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync("http://other.example.test/"));
    }

    [Fact]
    public async Task EquivalentSpellingsOfAHostShareOneBudget()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions { DefaultPolicy = PerMinute(3) }, routeAllTo: PortA);
        await client.GetStringAsync("http://Example.TEST/");
        await client.GetStringAsync("http://example.test./");
        await client.GetStringAsync("http://example.test:80/");
        var error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetStringAsync("http://EXAMPLE.test/"));
        Assert.Equal("example.test", error.Host);
        Assert.Equal("ok", await client.GetStringAsync("http://example.test:8080/"));   // another port, another budget

        Assert.Equal("example.com", HostKey.Host(new Uri("https://Example.COM:443/x")));
        Assert.True(new Uri("https://Example.COM:443/x").IsDefaultPort);
        Assert.Equal("xn--bcher-kva.example", HostKey.Host(new Uri("http://Bücher.example/")));
        Assert.Equal("2001:db8::1", HostKey.Host(new Uri("http://[2001:0db8:0:0::1]/")));
        Assert.Equal("*.xn--bcher-kva.example", HostKey.CanonicalPattern("*.BÜCHER.example."));
    }

    [Fact]
    public async Task ACallMayWaitForAPermitUpToMaxWait()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions
        {
            DefaultPolicy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromSeconds(1) },
            MaxWait = TimeSpan.FromSeconds(2),
        });
        string url = $"http://127.0.0.1:{PortA}/";
        await client.GetStringAsync(url);
        Task<string> waiting = client.GetStringAsync(url);
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("ok", await waiting);
    }

    [Fact]
    public async Task CancellingAWaitLeavesNothingBehind()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions
        {
            DefaultPolicy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromSeconds(10) },
            MaxWait = TimeSpan.FromSeconds(20),
        });
        string url = $"http://127.0.0.1:{PortA}/";
        await client.GetStringAsync(url);
        using var cancel = new CancellationTokenSource();
        Task<string> waiting = client.GetStringAsync(url, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("ok", await client.GetStringAsync(url));             // the cancelled wait took no permit...
        Task<string> next = client.GetStringAsync(url);                  // ...and this window's one permit is used
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("ok", await next);
        Assert.Equal(3, _hits);
    }

    [Fact]
    public async Task PartitionsGiveEachCallerItsOwnShareOfAHost()
    {
        using HttpClient client = Client(new FloodgateOutboundOptions
        {
            DefaultPolicy = PerMinute(1),
            PartitionBy = request => request.Headers.TryGetValues("X-User", out var users) ? users.First() : null,
        });
        string url = $"http://127.0.0.1:{PortA}/";
        foreach (string user in new[] { "ann", "bob" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Add("X-User", user);
            Assert.True((await client.SendAsync(request)).IsSuccessStatusCode);
        }

        using var again = new HttpRequestMessage(HttpMethod.Get, url);
        again.Headers.Add("X-User", "ann");
        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.SendAsync(again));
    }

    [Fact]
    public void InvalidOptionsAreRejectedNamingTheSettingAndValue()
    {
        var options = new FloodgateOutboundOptions
        {
            DefaultPolicy = new FloodgatePolicy { PermitLimit = 0, Window = TimeSpan.FromSeconds(1) },
            Backoff = TimeSpan.FromSeconds(-1),
            MaxWait = TimeSpan.FromHours(1),
            Capacity = 0,
        }.AddHost("bad host!", PerMinute(1));
        var error = Assert.Throws<ArgumentException>(() => new FloodgateOutboundHandler(options));
        Assert.Contains("FloodgateOutboundOptions.DefaultPolicy.PermitLimit must be greater than 0; got 0", error.Message);
        Assert.Contains("FloodgateOutboundOptions.Backoff must be between 0 and 10 years; got -00:00:01", error.Message);
        Assert.Contains("FloodgateOutboundOptions.MaxWait must be between 0 and 10 minutes; got 01:00:00", error.Message);
        Assert.Contains("FloodgateOutboundOptions.Capacity must be between 1", error.Message);
        Assert.Contains("invalid host 'bad host!'", error.Message);
    }

    [Fact]
    public async Task HttpClientFactoryClientsShareTheirBudgetsAndBindConfiguration()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Floodgate:Outbound:DefaultPolicy:PermitLimit"] = "2",
            ["Floodgate:Outbound:DefaultPolicy:Window"] = "00:01:00",
            ["Floodgate:Outbound:Backoff"] = "00:00:20",
            ["Floodgate:Outbound:Hosts:localhost:PermitLimit"] = "1",
            ["Floodgate:Outbound:Hosts:localhost:Window"] = "00:01:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddHttpClient("lookups").AddFloodgateOutbound(configuration.GetSection("Floodgate:Outbound"));
        await using ServiceProvider provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();

        await factory.CreateClient("lookups").GetStringAsync($"http://127.0.0.1:{PortA}/");
        await factory.CreateClient("lookups").GetStringAsync($"http://127.0.0.1:{PortA}/");
        var error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => factory.CreateClient("lookups").GetStringAsync($"http://127.0.0.1:{PortA}/"));
        Assert.Equal(TimeSpan.FromSeconds(20), error.RetryAfter);

        await factory.CreateClient("lookups").GetStringAsync($"http://localhost:{PortB}/");
        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => factory.CreateClient("lookups").GetStringAsync($"http://localhost:{PortB}/"));
    }
}
