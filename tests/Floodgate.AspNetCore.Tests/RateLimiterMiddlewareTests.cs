using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.AspNetCore.Tests;

/// <summary>Floodgate inside ASP.NET Core's own rate limiting middleware (AddRateLimiter + UseRateLimiter), on Kestrel.</summary>
public sealed class RateLimiterMiddlewareTests
{
    [Fact]
    public async Task AsTheGlobalLimiterOfUseRateLimiterItLimitsEachClientAndBlocksOffenders()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var floodgate = new FloodgateLimiter(
            new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) },
            new FloodgateLimiterOptions { TimeProvider = time });
        var blocked = new List<FloodgateEventArgs>();
        floodgate.ClientStateChanged += (_, e) => blocked.Add(e);

        await using TestServer server = await TestServer.StartAsync(
            _ => { },
            app =>
            {
                app.UseRateLimiter();
                app.MapGet("/items", () => "ok");
            },
            time,
            services: s => s.AddRateLimiter(o =>
            {
                // The three lines of the README.
                o.GlobalLimiter = floodgate.ToPartitionedRateLimiter<HttpContext>(context => context.Connection.RemoteIpAddress);
                o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                o.OnRejected = (context, _) =>
                {
                    if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter))
                    {
                        context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                    }

                    return ValueTask.CompletedTask;
                };
            }));

        using HttpClient client = server.ClientFrom(2);
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            statuses.Add((await client.GetAsync("/items")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        using HttpResponseMessage refused = await client.GetAsync("/items");
        Assert.Equal(TimeSpan.FromMinutes(5), refused.Headers.RetryAfter?.Delta);
        Assert.Single(blocked);
        Assert.Equal(FloodgateEventKind.Blocked, blocked[0].Kind);

        // Another client has its own budget; the block outlasts the window.
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(3).GetAsync("/items")).StatusCode);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/items")).StatusCode);
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);
    }
}
