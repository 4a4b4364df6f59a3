using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// The dashboard in Debian's headless chromium (Playwright, no browser download): it renders under its own strict
/// Content-Security-Policy, its numbers move under load, and its buttons lift a block and a blacklisting.
/// </summary>
public sealed class DashboardTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    private static Task<TestServer> StartAsync() => TestServer.StartAsync(
        o =>
        {
            o.Persistence = false;
            o.Challenge.Enabled = true;
            o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) });
            o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10), BlockLimit = 0 });
            o.AddPolicy("api-candidate", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), Mode = FloodgatePolicyMode.Shadow });
            o.GlobalLimit = new FloodgatePolicy { PermitLimit = 10_000, Window = TimeSpan.FromMinutes(1) };
        },
        app =>
        {
            app.MapGet("/items", () => "items").RequireFloodgate("api", "api-candidate");
            app.MapPost("/login", () => "nope").RequireFloodgate("login");
            app.MapFloodgateDashboard("/floodgate/dashboard", "operators");
        },
        services: s => s.AddAuthorization(a => a.AddPolicy("operators", p => p.RequireAssertion(_ => true))));

    [Fact]
    public async Task InHeadlessChromiumItRendersNumbersMoveUnderLoadAndTheButtonsLiftBans()
    {
        Assert.True(File.Exists(Chromium), "chromium is missing: ./test.sh installs it");
        await using TestServer server = await StartAsync();
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        IPage page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 900 } });
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                problems.Add(message.Text + " " + message.Location);   // a CSP violation is reported here
            }
        };
        page.PageError += (_, error) => problems.Add(error);

        IResponse? response = await page.GotoAsync($"http://127.0.0.1:{server.Port}/floodgate/dashboard");
        Assert.Equal(200, response!.Status);
        Assert.EndsWith("/floodgate/dashboard/", page.Url, StringComparison.Ordinal);
        await page.WaitForSelectorAsync("#policies tbody tr[data-policy='api']");
        Assert.Equal("in process", await page.InnerTextAsync("#redis"));
        Assert.Contains("shadow", await page.InnerTextAsync("#policies tbody tr[data-policy='api-candidate']"), StringComparison.Ordinal);
        Assert.Equal(1, await page.Locator("#policies tbody tr[data-policy='(global)']").CountAsync());

        // Load for a few seconds: one client over its limit (blocked), another blacklisted at login.
        using HttpClient spender = server.ClientFrom(2), offender = server.ClientFrom(3);
        Assert.Equal(HttpStatusCode.OK, (await offender.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await offender.PostAsync("/login", null)).StatusCode);
        using var stop = new CancellationTokenSource();
        Task load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using HttpResponseMessage _ = await spender.GetAsync("/items");
                await Task.Delay(50);
            }
        });

        // The numbers move: refusals per second on "api" (its cells turn red), and the global limit counts too.
        await page.WaitForFunctionAsync("() => document.querySelectorAll(\"#policies tr[data-policy='api'] td.hot\").length > 0", null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        await page.WaitForSelectorAsync("#banned tbody tr[data-client='127.0.0.2']");
        await page.WaitForSelectorAsync("#banned tbody tr[data-client='127.0.0.3']");
        await page.WaitForSelectorAsync("#top tbody tr[data-client='127.0.0.2']");
        Assert.True(long.Parse(await page.GetAttributeAsync("#policies tr[data-policy='(global)'] td.allowed", "data-total") ?? "0", System.Globalization.CultureInfo.InvariantCulture) > 3);
        string blocked = await page.InnerTextAsync("#banned tbody tr[data-client='127.0.0.2']");
        Assert.Contains("blocked", blocked, StringComparison.Ordinal);
        Assert.Contains("10m", blocked, StringComparison.Ordinal);   // the fake clock stands still: all ten minutes left
        Assert.Contains("blacklisted", await page.InnerTextAsync("#banned tbody tr[data-client='127.0.0.3']"), StringComparison.Ordinal);

        string screenshot = Path.Combine(Path.GetTempPath(), "floodgate-dashboard.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine("screenshot: " + screenshot);

        await stop.CancelAsync();
        await load;

        // The buttons: unblock the spender, unblacklist the offender; the rows go and the clients are free.
        await page.ClickAsync("#banned tbody tr[data-client='127.0.0.2'] button");
        await page.WaitForSelectorAsync("#banned tbody tr[data-client='127.0.0.2']", new PageWaitForSelectorOptions { State = WaitForSelectorState.Detached });
        Assert.Contains("Unblocked 127.0.0.2", await page.InnerTextAsync("#action"), StringComparison.Ordinal);
        FloodgateService service = server.Services.GetRequiredService<FloodgateService>();
        Assert.False(service.Limiters["api"].Inspect(IPAddress.Parse("127.0.0.2")).IsBlocked);
        Assert.Equal(HttpStatusCode.OK, (await spender.GetAsync("/items")).StatusCode);

        await page.ClickAsync("#banned tbody tr[data-client='127.0.0.3'] button");
        await page.WaitForSelectorAsync("#banned tbody tr[data-client='127.0.0.3']", new PageWaitForSelectorOptions { State = WaitForSelectorState.Detached });
        Assert.False(service.Limiters["login"].Inspect(IPAddress.Parse("127.0.0.3")).IsBlacklisted);

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public async Task ItsFilesCarryAStrictPolicyItsButtonsNeedTheHeaderAndItIsBehindAuthorization()
    {
        await using TestServer server = await StartAsync();
        using HttpClient client = server.ClientFrom(9);
        foreach (string path in new[] { "/floodgate/dashboard/", "/floodgate/dashboard/dashboard.js", "/floodgate/dashboard/dashboard.css", "/floodgate/dashboard/dashboard.svg" })
        {
            using HttpResponseMessage file = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            string policy = file.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
        }

        // No inline script or style, and nothing from another origin: the page works offline and under any app CSP allowing 'self'.
        string html = await client.GetStringAsync("/floodgate/dashboard/");
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<style", html, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http", html, StringComparison.Ordinal);

        // The data: the same state the admin endpoints show.
        using (HttpClient spender = server.ClientFrom(2))
        {
            for (int i = 0; i < 5; i++)
            {
                await spender.GetAsync("/items");
            }
        }

        using JsonDocument data = JsonDocument.Parse(await client.GetStringAsync("/floodgate/dashboard/data"));
        JsonElement api = data.RootElement.GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "api");
        Assert.Equal(3, api.GetProperty("decisions").GetProperty("allowed").GetInt64());
        Assert.Equal(2, api.GetProperty("decisions").GetProperty("rate_limited").GetInt64() + api.GetProperty("decisions").GetProperty("blocked").GetInt64());
        Assert.Equal(2, api.GetProperty("refusals").GetInt64());
        JsonElement ban = data.RootElement.GetProperty("banned").EnumerateArray().Single();
        Assert.Equal("127.0.0.2", ban.GetProperty("id").GetString());
        Assert.Equal(600, ban.GetProperty("secondsLeft").GetDouble());
        Assert.Equal("off", data.RootElement.GetProperty("redis").GetString());

        // A button's request without the header (a form of another site) is refused; with it, it works.
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/floodgate/dashboard/clients/127.0.0.2/unblock", null)).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/floodgate/dashboard/clients/127.0.0.2/unblock");
        request.Headers.Add(FloodgateDashboardEndpoints.ActionHeader, "1");
        Assert.Contains("\"unblocked\":[\"api\"]", await (await client.SendAsync(request)).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Every dashboard endpoint requires the operators policy and is [DisableFloodgate].
        var dashboard = server.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Where(e => (e as RouteEndpoint)?.RoutePattern.RawText?.StartsWith("/floodgate/dashboard", StringComparison.Ordinal) == true).ToList();
        Assert.Equal(7, dashboard.Count);
        Assert.All(dashboard, e =>
        {
            Assert.Contains(e.Metadata.GetOrderedMetadata<IAuthorizeData>(), a => a.Policy == "operators");
            Assert.NotNull(e.Metadata.GetMetadata<DisableFloodgateAttribute>());
        });
    }
}
