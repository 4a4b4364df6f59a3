using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// Policies declared with <c>[FloodgatePolicy]</c> in this assembly: the generator compiles them and registers them when
/// the assembly loads, and <c>AddFloodgate()</c> runs their precompiled checkers with no other call.
/// </summary>
public sealed partial class GeneratedPolicyTests
{
    [FloodgatePolicy("reports", PermitLimit = 2, Window = "1m", BlockDuration = "00:05:00")]
    [FloodgatePolicy("exports", PermitLimit = 1, Window = "30s")]
    internal static partial class Policies;

    [Fact]
    public async Task AnAppBuiltOnlyFromAttributesLimitsWithThePrecompiledChecker()
    {
        // No AddPolicy, no configuration: the attributes alone.
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app =>
            {
                app.MapGet("/reports", [Floodgate("reports")] () => "report");
                app.MapGet("/exports", () => "export").RequireFloodgate("exports");
            },
            generatedPolicies: true);
        using HttpClient a = server.ClientFrom(2);
        using HttpClient b = server.ClientFrom(3);

        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/reports")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/reports")).StatusCode);
        using HttpResponseMessage blocked = await a.GetAsync("/reports");
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(5), blocked.Headers.RetryAfter?.Delta);   // BlockDuration = "00:05:00"
        Assert.Equal("\"reports\";q=2;w=60", blocked.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/reports")).StatusCode);   // per client

        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/exports")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.GetAsync("/exports")).StatusCode);

        FloodgateService service = server.Services.GetRequiredService<FloodgateService>();
        Assert.True(service.Limiters["reports"].IsPrecompiled);
        Assert.True(service.Limiters["exports"].IsPrecompiled);
    }

    [Fact]
    public async Task GeneratedAndRuntimePoliciesMixOnOneAppAndOneEndpoint()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1) });
                o.DefaultPolicy = "exports";   // a generated policy as the default
            },
            app =>
            {
                app.MapGet("/both", [Floodgate("reports")] () => "both").RequireFloodgate("api");
                app.MapGet("/api", () => "api").RequireFloodgate("api");
                app.MapGet("/plain", () => "plain");
            },
            generatedPolicies: true);
        using HttpClient a = server.ClientFrom(2);

        // Both apply on /both: the generated "reports" (2) runs out first; "api" (3) counted both requests.
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/both")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/both")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.GetAsync("/both")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/api")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.GetAsync("/api")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/plain")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.GetAsync("/plain")).StatusCode);

        FloodgateService service = server.Services.GetRequiredService<FloodgateService>();
        Assert.False(service.Limiters["api"].IsPrecompiled);
        Assert.True(service.Limiters["reports"].IsPrecompiled);
    }

    [Fact]
    public async Task ANameDefinedInCodeAndByAnAttributeStopsTheAppNamingBoth()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("reports", new FloodgatePolicy { PermitLimit = 9, Window = TimeSpan.FromMinutes(1) });
            },
            app => app.MapGet("/reports", () => "report").RequireFloodgate("reports"),
            generatedPolicies: true));
        Assert.Contains("Floodgate policy 'reports' is defined twice: in code (FloodgateOptions.AddPolicy(\"reports\", ...))", error.Message);
        Assert.Contains("[FloodgatePolicy] on Floodgate.AspNetCore.Tests.GeneratedPolicyTests.Policies.", error.Message);
        Assert.Contains("(Floodgate.AspNetCore.Tests)", error.Message);
    }

    [Fact]
    public async Task ANameDefinedInConfigurationAndByAnAttributeStopsTheAppNamingBoth()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/exports", () => "export").RequireFloodgate("exports"),
            settings: new() { ["Floodgate:Policies:exports:PermitLimit"] = "5", ["Floodgate:Policies:exports:Window"] = "1m" },
            generatedPolicies: true));
        Assert.Contains("Floodgate policy 'exports' is defined twice: in configuration (Floodgate:Policies:exports) and by [FloodgatePolicy] on Floodgate.AspNetCore.Tests.GeneratedPolicyTests.Policies.", error.Message);
    }

    [Fact]
    public async Task AnEndpointNamingAPolicyDefinedNowhereStopsTheApp()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/typo", () => "typo").RequireFloodgate("reprots"),
            generatedPolicies: true));
        Assert.Contains("'reprots' (used by", error.Message);
        Assert.Contains("reports", error.Message);
    }
}
