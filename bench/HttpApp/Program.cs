using System.Threading.RateLimiting;
using Floodgate;
using Microsoft.AspNetCore.RateLimiting;

// The hello-world app of the HTTP benchmark (bench/http-bench.sh): `none`, `builtin` (UseRateLimiter with a
// fixed window partitioned by client IP, as the docs show) or `floodgate`, on http://127.0.0.1:<port>/.
string mode = args.Length > 0 ? args[0] : "none";
string port = args.Length > 1 ? args[1] : "5090";
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
if (mode == "builtin")
{
    builder.Services.AddRateLimiter(o => o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? string.Empty, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = 8_000_000, Window = TimeSpan.FromHours(1), QueueLimit = 0 })));
}
else if (mode == "floodgate")
{
    builder.Services.AddFloodgate(o =>
    {
        o.Persistence = false;
        o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 8_000_000, Window = TimeSpan.FromHours(1) });
        o.DefaultPolicy = "api";
    });
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

app.MapGet("/", () => "Hello, world");
app.Run();
