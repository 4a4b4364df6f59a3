using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Floodgate.AspNetCore.Tests;

/// <summary>With AddProblemDetails(), Floodgate's 429, 403 and 503 bodies go through the app's IProblemDetailsService.</summary>
public sealed class ProblemDetailsTests
{
    [Fact]
    public async Task TheAppsCustomisationsApplyToEveryRejection()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.Contact = "ops@example.com";
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
                o.GlobalLimit = new FloodgatePolicy { PermitLimit = 6, Window = TimeSpan.FromMinutes(1) };
            },
            app => app.MapGet("/items", () => "ok").RequireFloodgate("api"),
            services: s => s.AddProblemDetails(p => p.CustomizeProblemDetails = c =>
            {
                c.ProblemDetails.Extensions["traceId"] = "trace-from-the-app";
                c.ProblemDetails.Instance = c.HttpContext.Request.Path;
            }));
        using HttpClient client = server.ClientFrom(2);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);

        using HttpResponseMessage limited = await client.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(60), limited.Headers.RetryAfter?.Delta);
        using (JsonDocument body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()))
        {
            JsonElement root = body.RootElement;
            Assert.Equal("trace-from-the-app", root.GetProperty("traceId").GetString());
            Assert.Equal("/items", root.GetProperty("instance").GetString());
            Assert.Equal(429, root.GetProperty("status").GetInt32());
            Assert.Equal("Too many requests", root.GetProperty("title").GetString());
            Assert.Equal("api", root.GetProperty("policy").GetString());
            Assert.Equal(60, root.GetProperty("retryAfter").GetInt64());
            Assert.Equal("ops@example.com", root.GetProperty("contact").GetString());
        }

        // 403 for a denylisted client.
        server.Services.GetRequiredService<FloodgateService>().Limiters["api"].Denylist.Add(IPAddress.Parse("127.0.0.3"));
        using HttpResponseMessage denied = await server.ClientFrom(3).GetAsync("/items");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        using (JsonDocument body = JsonDocument.Parse(await denied.Content.ReadAsStringAsync()))
        {
            Assert.Equal("trace-from-the-app", body.RootElement.GetProperty("traceId").GetString());
            Assert.Equal("Access denied", body.RootElement.GetProperty("title").GetString());
        }

        // A browser still gets the page.
        using var page = new HttpRequestMessage(HttpMethod.Get, "/items");
        page.Headers.Accept.ParseAdd("text/html");
        Assert.Equal("text/html", (await server.ClientFrom(2).SendAsync(page)).Content.Headers.ContentType?.MediaType);

        // The global guard's 503 (6 a minute, four used above).
        HttpResponseMessage? busy = null;
        for (int i = 0; i < 6 && busy?.StatusCode != HttpStatusCode.ServiceUnavailable; i++)
        {
            busy = await server.ClientFrom(4 + i).GetAsync("/items");
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, busy!.StatusCode);
        using (JsonDocument body = JsonDocument.Parse(await busy.Content.ReadAsStringAsync()))
        {
            Assert.Equal("trace-from-the-app", body.RootElement.GetProperty("traceId").GetString());
            Assert.Equal("Service busy", body.RootElement.GetProperty("title").GetString());
            Assert.Equal(503, body.RootElement.GetProperty("status").GetInt32());
        }

    }
}
