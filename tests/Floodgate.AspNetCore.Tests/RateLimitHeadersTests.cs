using System.Net;
using Microsoft.AspNetCore.Builder;

namespace Floodgate.AspNetCore.Tests;

/// <summary>FloodgateOptions.RateLimitHeaders on a real Kestrel: which answers carry RateLimit-Policy and RateLimit.</summary>
public sealed class RateLimitHeadersTests
{
    [Theory]
    [InlineData(null, true, true)]   // the default
    [InlineData("Always", true, true)]
    [InlineData("OnRejection", false, true)]
    [InlineData("Never", false, false)]
    public async Task TheSettingDecidesWhichAnswersCarryTheHeaders(string? setting, bool onAllowed, bool onRejected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:api:PermitLimit"] = "2",
            ["Floodgate:Policies:api:Window"] = "00:01:00",
            ["Floodgate:Policies:hourly:PermitLimit"] = "100",
            ["Floodgate:Policies:hourly:Window"] = "01:00:00",
        };
        if (setting is not null)
        {
            settings["Floodgate:RateLimitHeaders"] = setting;
        }

        await using TestServer server = await TestServer.StartAsync(_ => { }, app =>
        {
            app.MapGet("/one", () => "ok").RequireFloodgate("api");
            app.MapGet("/two", () => "ok").RequireFloodgate("hourly", "api");
        }, settings: settings);

        foreach ((string path, int host, string policy) in new[] { ("/one", 2, "\"api\";q=2;w=60"), ("/two", 3, "\"hourly\";q=100;w=3600, \"api\";q=2;w=60") })
        {
            using HttpClient client = server.ClientFrom(host);
            for (int i = 0; i < 3; i++)
            {
                using HttpResponseMessage answer = await client.GetAsync(path);
                bool rejected = i == 2;
                Assert.Equal(rejected ? HttpStatusCode.TooManyRequests : HttpStatusCode.OK, answer.StatusCode);
                bool expected = rejected ? onRejected : onAllowed;
                Assert.Equal(expected, answer.Headers.Contains("RateLimit-Policy"));
                Assert.Equal(expected, answer.Headers.Contains("RateLimit"));
                if (expected)
                {
                    Assert.Equal(policy, Assert.Single(answer.Headers.GetValues("RateLimit-Policy")));
                    Assert.EndsWith($"\"api\";r={(rejected ? 0 : 1 - i)};t=60", Assert.Single(answer.Headers.GetValues("RateLimit")), StringComparison.Ordinal);
                }

                if (rejected)
                {
                    Assert.Equal(TimeSpan.FromSeconds(60), answer.Headers.RetryAfter?.Delta);   // always, whatever the setting
                }
            }
        }
    }

    [Fact]
    public async Task AnUnknownValueStopsStartupNamingTheSetting()
    {
        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(_ => { }, _ => { }, settings: new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:RateLimitHeaders"] = "Sometimes",
        }));
        Assert.Contains("Floodgate:RateLimitHeaders", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Sometimes", error.ToString(), StringComparison.Ordinal);

        var invalid = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.RateLimitHeaders = (FloodgateRateLimitHeaders)7;
            },
            _ => { }));
        Assert.Contains("Floodgate:RateLimitHeaders must be Always, OnRejection or Never; got '7'.", invalid.Message, StringComparison.Ordinal);
    }
}
