using System.Net;
using System.Reflection;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>No configuration surprises: a misspelt setting stops startup naming it and its closest match; a policy defined twice is said.</summary>
public sealed class ConfigurationSurpriseTests
{
    [Theory]
    [InlineData("Floodgate:Polices:api:PermitLimit", "Floodgate:Polices is not a Floodgate setting; did you mean Policies?")]
    [InlineData("Floodgate:Policies:api:Windw", "Floodgate:Policies:api:Windw is not a Floodgate setting; did you mean Window?")]
    [InlineData("Floodgate:Policies:api:Keys", "Floodgate:Policies:api:Keys is not a Floodgate setting; did you mean Key?")]
    [InlineData("Floodgate:GlobalLimit:PermitLimt", "Floodgate:GlobalLimit:PermitLimt is not a Floodgate setting; did you mean PermitLimit?")]
    [InlineData("Floodgate:Challenge:Dificulty", "Floodgate:Challenge:Dificulty is not a Floodgate setting; did you mean Difficulty?")]
    [InlineData("Floodgate:Capacty", "Floodgate:Capacty is not a Floodgate setting; did you mean Capacity?")]
    [InlineData("Floodgate:SomethingElse", "Floodgate:SomethingElse is not a Floodgate setting.")]
    [InlineData("Floodgate:Redis:Timout", "Floodgate:Redis:Timout is not a Floodgate setting; did you mean Timeout?")]
    [InlineData("Floodgate:Redis:KeyPrefx", "Floodgate:Redis:KeyPrefx is not a Floodgate setting; did you mean KeyPrefix?")]
    [InlineData("Floodgate:Redis:SyncMod", "Floodgate:Redis:SyncMod is not a Floodgate setting; did you mean SyncMode?")]
    [InlineData("Floodgate:Redis:PolicySyncModes:apii", "Floodgate:Redis:PolicySyncModes:apii names no policy (configured: api)")]
    [InlineData("Floodgate:Outbound:Backof", "Floodgate:Outbound:Backof is not a Floodgate setting; did you mean Backoff?")]
    [InlineData("Floodgate:Outbound:DefaultPolicy:Windw", "Floodgate:Outbound:DefaultPolicy:Windw is not a Floodgate setting; did you mean Window?")]
    [InlineData("Floodgate:Outbound:Hosts:api.example.com:PermitLimt", "Floodgate:Outbound:Hosts:api.example.com:PermitLimt is not a Floodgate setting; did you mean PermitLimit?")]
    public async Task AnUnknownSettingStopsStartupNamingItAndTheClosestKnownName(string setting, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:api:PermitLimit"] = "5",
            ["Floodgate:Policies:api:Window"] = "1m",
            ["Floodgate:GlobalLimit:PermitLimit"] = "100",
            ["Floodgate:GlobalLimit:Window"] = "1s",
            [setting] = "1",
        };
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(_ => { }, _ => { }, settings: settings));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryKnownSettingIsAccepted()
    {
        await using TestServer server = await TestServer.StartAsync(_ => { }, app => app.MapGet("/", () => "ok").RequireFloodgate("api"), settings: new()
        {
            ["Floodgate:Persistence"] = "false",
            ["floodgate:policies:api:permitLimit"] = "5",   // configuration keys are case-insensitive
            ["Floodgate:Policies:api:Window"] = "1m",
            ["Floodgate:Policies:api:Key"] = "Header:X-Api-Key",
            ["Floodgate:Policies:api:Costs:0:Endpoint"] = "/",
            ["Floodgate:Policies:api:Costs:0:Cost"] = "2",
            ["Floodgate:Challenge:Enabled"] = "false",
            ["Floodgate:Outbound:DefaultPolicy:PermitLimit"] = "5",
            ["Floodgate:Outbound:Hosts:api.example.com:PermitLimit"] = "5",
            ["Floodgate:Outbound:Backoff"] = "15s",
            ["Floodgate:Redis:SyncMode"] = "Batched",
            ["Floodgate:Redis:PolicySyncModes:API"] = "Exact",   // policy names here as the configuration's keys: any case
        });
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(2).GetAsync("/")).StatusCode);
    }

    [Theory]
    [InlineData(typeof(FloodgateOptions))]
    [InlineData(typeof(FloodgatePolicy))]
    [InlineData(typeof(FloodgateChallengeOptions))]
    [InlineData(typeof(FloodgateOutboundOptions))]
    public void TheKnownNamesAreEveryOptionOfTheirType(Type type)
    {
        string[] known = type == typeof(FloodgateOptions) ? KnownSettings.Options
            : type == typeof(FloodgatePolicy) ? KnownSettings.Policy
            : type == typeof(FloodgateOutboundOptions) ? KnownSettings.Outbound
            : KnownSettings.Challenge;
        var bindable = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod?.IsPublic == true || p.PropertyType.Namespace == "System.Collections.Generic" || p.PropertyType == typeof(FloodgateChallengeOptions))
            .Where(p => !typeof(Delegate).IsAssignableFrom(p.PropertyType))   // code only (Exempt, OnRejected)
            .Where(p => p.PropertyType != typeof(TimeProvider) && p.PropertyType != typeof(Microsoft.Extensions.Logging.ILogger))   // code only
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal);
        Assert.Equal(bindable, known.Except(["Redis", "Outbound"]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task APolicyDefinedInConfigurationAndInCodeIsSaidAndTheCodesApplies()
    {
        var logs = new CapturingLoggerProvider();
        await using TestServer server = await TestServer.StartAsync(
            o => o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) }),
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            settings: new()
            {
                ["Floodgate:Persistence"] = "false",
                ["Floodgate:Policies:api:PermitLimit"] = "100",
                ["Floodgate:Policies:api:Window"] = "1m",
            },
            logs: logs);
        using HttpClient client = server.ClientFrom(2);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/items")).StatusCode);   // the code's 1, not 100
        Assert.Contains(logs.Entries, e => e.Id == 308 && e.Message.Contains("'api' is defined both in configuration", StringComparison.Ordinal));
    }
}
