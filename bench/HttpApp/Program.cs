using System.Threading.RateLimiting;
using Floodgate;
using Microsoft.AspNetCore.RateLimiting;

// The app of the HTTP benchmark (bench/http-bench.sh), built as a user builds one: WebApplication.CreateBuilder,
// appsettings.json as the template has it. Modes: `none`, `builtin` (UseRateLimiter, a fixed window partitioned
// by client IP, as the docs show) or `floodgate` (its defaults: persistence on, two policies from configuration,
// RateLimit headers). `/` has one policy, `/free` and `/stats` (requests served and bytes allocated so far) none.
// Usage: HttpApp <mode> <port> [kernel|ticker|precise] [--config overrides]; listens on http://127.0.0.1:<port>/.
string mode = args.Length > 0 ? args[0] : "none";
string port = args.Length > 1 ? args[1] : "5090";
if (args.Length > 2 && !args[2].StartsWith("--", StringComparison.Ordinal))
{
    AppContext.SetData("Floodgate.Clock", args[2]);   // kernel, ticker or precise: what checks read for "now"
}

WebApplicationBuilder builder = WebApplication.CreateBuilder(args.SkipWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray());
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
if (mode == "builtin")
{
    builder.Services.AddRateLimiter(o => o.AddPolicy("api", context =>
        RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? string.Empty, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = 8_000_000, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 })));
}
else if (mode == "floodgate")
{
    builder.Services.AddFloodgate();   // the "Floodgate" section of appsettings.json
}

WebApplication app = builder.Build();
if (mode == "builtin")
{
    app.UseRateLimiter();
}
else if (mode == "floodgate")
{
    app.UseFloodgate();
}

// The script reads the server's own count of requests served (and the bytes allocated so far) between two moments
// of a run, so a figure covers the server under steady load, never wrk's connecting or stopping.
long served = 0;
string Hello()
{
    Interlocked.Increment(ref served);
    return "Hello, world";
}

RouteHandlerBuilder limited = app.MapGet("/", Hello);
app.MapGet("/free", Hello);
app.MapGet("/stats", () => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Interlocked.Read(ref served)} {GC.GetTotalAllocatedBytes(precise: true)}"));
if (mode == "builtin")
{
    limited.RequireRateLimiting("api");
}
else if (mode == "floodgate")
{
    limited.RequireFloodgate("api");
}

app.Run();
