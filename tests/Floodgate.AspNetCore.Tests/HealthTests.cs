using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The health check tells the truth about a table under overflow pressure, on a real Kestrel.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task ATableFullOfBannedClientsIsDegradedWhileNewClientsFindNoSlotAndHealthyOnceTheyStop()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.Capacity = 16;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1) });
            },
            app =>
            {
                app.MapGet("/items", () => "items").RequireFloodgate("api");
                app.MapHealthChecks("/health", new HealthCheckOptions
                {
                    ResponseWriter = (context, report) => context.Response.WriteAsync(report.Status + ": " + string.Join("; ", report.Entries.Select(e => e.Value.Description))),
                }).DisableFloodgate();
            },
            services: s => s.AddHealthChecks().AddFloodgate());
        using HttpClient probe = server.ClientFrom(100);
        Assert.StartsWith("Healthy", await probe.GetStringAsync("/health"), StringComparison.Ordinal);

        // Sixteen banned clients fill the table; the next ones find no slot.
        for (int host = 2; host < 24; host++)
        {
            using HttpClient client = server.ClientFrom(host);
            await client.GetAsync("/items");
            await client.GetAsync("/items");
        }

        string degraded = await probe.GetStringAsync("/health");
        Assert.StartsWith("Degraded", degraded, StringComparison.Ordinal);
        Assert.Contains("the tables of api are full", degraded, StringComparison.Ordinal);
        Assert.Contains("raise Floodgate:Capacity", degraded, StringComparison.Ordinal);

        // No new client since: the pressure is over.
        Assert.StartsWith("Healthy", await probe.GetStringAsync("/health"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health")).StatusCode);
    }
}

/// <summary>The memory an app's tables take at the defaults.</summary>
public sealed class MemoryBudgetTests
{
    [Fact]
    public async Task AnAppWithEightPoliciesAtTheDefaultsHoldsUnder64MiBOfTables()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                for (int i = 0; i < 8; i++)
                {
                    o.AddPolicy("policy-" + i, new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) });
                }
            },
            _ => { });
        var limiters = server.Services.GetRequiredService<FloodgateService>().Limiters.Values.ToList();
        Assert.Equal(8, limiters.Count);
        long total = limiters.Sum(l => l.MemoryBytes);
        Assert.True(total < 64L << 20, $"8 policies take {total / (1 << 20)} MiB");
        Assert.All(limiters, l => Assert.Equal(FloodgateOptions.DefaultCapacity, l.Capacity));
    }
}
