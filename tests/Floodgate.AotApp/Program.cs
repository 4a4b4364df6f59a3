using System.Net;
using Floodgate;

// Published with Native AOT by tests/Floodgate.AspNetCore.Tests/AotTests: the parts of Floodgate an app uses.
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddFloodgate(o => o.AddPolicy("search", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) }));
builder.Services.AddAuthorization(o => o.AddPolicy("operators", p => p.RequireAssertion(c =>
    c.Resource is HttpContext http && IPAddress.Parse("127.0.0.9").Equals(http.Connection.RemoteIpAddress))));
builder.Services.AddHttpClient("upstream").AddFloodgateOutbound(o => o.AddHost("127.0.0.1", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) }));

WebApplication app = builder.Build();
app.UseFloodgate();
app.UseAuthorization();
app.MapGet("/health", () => "healthy").DisableFloodgate();
app.MapGet("/items", () => "apple pear plum").RequireFloodgate("api");       // configured in appsettings.json
app.MapGet("/search", () => "nothing found").RequireFloodgate("search");     // configured in code
app.MapGet("/reports", () => "report").RequireFloodgate("reports");          // generated from [FloodgatePolicy] below
app.MapGet("/call", async (IHttpClientFactory clients, HttpContext context) =>
{
    try
    {
        string body = await clients.CreateClient("upstream").GetStringAsync($"http://127.0.0.1:{context.Connection.LocalPort}/health");
        return Results.Text("upstream said " + body);
    }
    catch (OutboundRateLimitedException e)
    {
        return Results.Text($"outbound limited for {(int)e.RetryAfter.TotalSeconds} s", statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}).DisableFloodgate();
app.MapFloodgateAdmin("/floodgate", "operators");
app.Run();

// Registered by the generator's module initializer, checked by its precompiled checker: no reflection under AOT.
[FloodgatePolicy("reports", PermitLimit = 1, Window = "1m", BlockDuration = "2m")]
internal static partial class Policies;
