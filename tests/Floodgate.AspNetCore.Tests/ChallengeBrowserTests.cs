using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The challenge in a real browser: Debian's headless chromium, driven by Playwright (no browser download).</summary>
public sealed class ChallengeBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task InHeadlessChromiumTheScriptSolvesTheChallengeAndThePersonGetsThrough()
    {
        Assert.True(File.Exists(Chromium), "chromium is missing: ./test.sh installs it");
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.Contact = "ops@example.com";
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) });
                o.Challenge.Enabled = true;
                o.Challenge.Difficulty = 14;
            },
            app => app.MapGet("/items", () => "apple pear plum").RequireFloodgate("api"));

        // The browser connects from 127.0.0.1: that client has used its two requests and is blocked for ten minutes.
        using HttpClient sameClient = server.ClientFrom(1);
        for (int i = 0; i < 3; i++)
        {
            await sameClient.GetAsync("/items");
        }

        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        IPage page = await browser.NewPageAsync();

        // Hold the answer until the screenshot of the working page is taken.
        var shot = new TaskCompletionSource();
        await page.RouteAsync("**/.floodgate/challenge", async route =>
        {
            await shot.Task;
            await route.ContinueAsync();
        });

        string url = $"http://127.0.0.1:{server.Port}/items";
        IResponse? first = await page.GotoAsync(url);
        Assert.Equal(429, first!.Status);
        Assert.Contains("Too many requests: temporarily blocked", await page.ContentAsync(), StringComparison.Ordinal);
        await page.WaitForSelectorAsync("#floodgate-challenge:not([hidden])");
        string screenshot = Path.Combine(Path.GetTempPath(), "floodgate-challenge.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        File.Copy(screenshot, Path.Combine(AppContext.BaseDirectory, "floodgate-challenge.png"), overwrite: true);
        output.WriteLine("screenshot: " + screenshot);
        shot.SetResult();

        // Unaided: the worker solves it, the page posts the answer and loads the page asked for.
        await page.WaitForFunctionAsync("() => document.body && document.body.innerText.trim() === 'apple pear plum'", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        FloodgateLimiter limiter = server.Services.GetRequiredService<FloodgateService>().Limiters["api"];
        ClientState state = limiter.Inspect(IPAddress.Loopback);
        Assert.False(state.IsBlocked);
        Assert.Equal(1, state.BlockCount);   // the pass does not forgive: a repeat offence escalates

        // What the work costs this browser: WebCrypto SHA-256 calls a second (as the worker makes them).
        double perSecond = await page.EvaluateAsync<double>("""
            async () => {
              const encoder = new TextEncoder();
              const start = performance.now();
              for (let i = 0; i < 20000; i++) await crypto.subtle.digest('SHA-256', encoder.encode('token:' + i));
              return 20000 / ((performance.now() - start) / 1000);
            }
            """);
        string costs = string.Join(" / ", new[] { 14, 16, 18, 20 }.Select(d => (Math.Pow(2, d) / perSecond).ToString("0.0", CultureInfo.InvariantCulture) + " s"));
        string figures = $"headless chromium: {perSecond.ToString("N0", CultureInfo.InvariantCulture)} SHA-256 a second; expected work at difficulty 14/16/18/20: {costs}";
        output.WriteLine(figures);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "floodgate-challenge-cost.txt"), figures + Environment.NewLine);
    }
}
