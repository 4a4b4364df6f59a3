using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>One duration syntax everywhere: configuration takes <c>"30s"</c> as attributes do, and <c>"00:00:30"</c> as before.</summary>
public sealed class DurationConfigurationTests
{
    [Fact]
    public async Task ConfigurationTakesBothDurationSyntaxes()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            settings: new()
            {
                ["Floodgate:Policies:api:PermitLimit"] = "1",
                ["Floodgate:Policies:api:Window"] = "10s",
                ["Floodgate:Policies:api:BlockDuration"] = "00:05:00",
                ["Floodgate:Policies:api:BlockLimit"] = "2",
                ["Floodgate:Policies:api:BlockExceedDuration"] = "forever",
                ["Floodgate:Policies:api:MaxBlockDuration"] = "1.5h",
                ["Floodgate:Policies:api:Cooldown"] = "250ms",
                ["Floodgate:CheckpointInterval"] = "1m",
                ["Floodgate:Challenge:TokenLifetime"] = "2m",
                ["Floodgate:GlobalLimit:PermitLimit"] = "100",
                ["Floodgate:GlobalLimit:Window"] = "1s",
                ["Floodgate:DataDirectory"] = "1d",   // not a duration setting: left as written
            });
        FloodgateOptions options = server.Services.GetRequiredService<IOptions<FloodgateOptions>>().Value;
        FloodgatePolicy api = options.Policies["api"];
        Assert.Equal(TimeSpan.FromSeconds(10), api.Window);
        Assert.Equal(TimeSpan.FromMinutes(5), api.BlockDuration);
        Assert.Equal(FloodgatePolicy.Forever, api.BlockExceedDuration);
        Assert.Equal(TimeSpan.FromMinutes(90), api.MaxBlockDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(250), api.Cooldown);
        Assert.Equal(TimeSpan.FromMinutes(1), options.CheckpointInterval);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Challenge.TokenLifetime);
        Assert.Equal(TimeSpan.FromSeconds(1), options.GlobalLimit!.Window);
        Assert.Equal("1d", options.DataDirectory);

        using HttpClient a = server.ClientFrom(2);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/items")).StatusCode);
        server.Time.Advance(TimeSpan.FromSeconds(1));   // past the cooldown
        using HttpResponseMessage blocked = await a.GetAsync("/items");
        Assert.Equal(TimeSpan.FromMinutes(5), blocked.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task ADurationInNeitherSyntaxStopsTheAppNamingTheSettingAndValue()
    {
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            settings: new() { ["Floodgate:Policies:api:PermitLimit"] = "1", ["Floodgate:Policies:api:Window"] = "10 seconds" }));
        Assert.Contains("Floodgate:Policies:api:Window", error.Message);
        Assert.Contains("10 seconds", error.ToString());
    }

    [Fact]
    public void EveryDurationSettingOfEveryOptionsTypeIsReadWithTheDurationSyntax()
    {
        Type[] types = [typeof(FloodgateOptions), typeof(FloodgatePolicy), typeof(FloodgateChallengeOptions), typeof(FloodgateOutboundOptions)];
        var durations = types.SelectMany(t => t.GetProperties())
            .Where(p => p.CanWrite && p.SetMethod!.IsPublic && (p.PropertyType == typeof(TimeSpan) || p.PropertyType == typeof(TimeSpan?)))
            .Select(p => p.Name)
            .ToList();
        Assert.NotEmpty(durations);
        Assert.All(durations, name => Assert.Contains(name, FloodgateConfiguration.DurationKeys));
    }

    [Fact]
    public void TheOutboundSectionTakesBothSyntaxes()
    {
        IConfiguration section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Backoff"] = "20s",
            ["MaxWait"] = "00:00:02",
        }).Build();
        var options = new FloodgateOutboundOptions();
        FloodgateConfiguration.WithDurations(section).Bind(options);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Backoff);
        Assert.Equal(TimeSpan.FromSeconds(2), options.MaxWait);
    }
}
