using System.Runtime.InteropServices;
using System.Threading.RateLimiting;
using Floodgate;
using Microsoft.AspNetCore.RateLimiting;

// The app of the HTTP benchmark (bench/http-bench.sh), built as a user builds one: WebApplication.CreateBuilder,
// appsettings.json as the template has it. Modes: `none`, `builtin` (UseRateLimiter, a fixed window partitioned
// by client IP, as the docs show), `floodgate` (its defaults: persistence on, two policies from configuration,
// RateLimit headers) or `switched`: Floodgate registered as in `floodgate`, its middleware on the request path only
// while /switch/1 is set (/switch/0: off; /switch/2: instead of it, a middleware that only sets the two RateLimit
// headers to constant values, which is what Kestrel charges any middleware for them). `/` has one policy, `/keyed` one
// counted per X-Api-Key header, `/free` none; `/stats` answers "<requests served> <bytes allocated> <process CPU time in ns>".
// Usage: HttpApp <mode> <port> [kernel|ticker|precise] [--config overrides]; listens on http://127.0.0.1:<port>/.
string mode = args.Length > 0 ? args[0] : "none";
string port = args.Length > 1 ? args[1] : "5090";
if (args.Length > 2 && !args[2].StartsWith("--", StringComparison.Ordinal))
{
    AppContext.SetData("Floodgate.Clock", args[2]);   // kernel, ticker or precise: what checks read for "now"
}

// `switched-rrl`: the same switch with the RedisRateLimiting package's fixed window (per X-Api-Key on /keyed, per
// address on /) in place of Floodgate; Floodgate runs on Redis when Floodgate:Redis:Configuration is given.
bool floodgate = mode is "floodgate" or "switched";
bool peer = mode == "switched-rrl";
WebApplicationBuilder builder = WebApplication.CreateBuilder(args.SkipWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray());
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
if (mode == "builtin")
{
    builder.Services.AddRateLimiter(o => o.AddPolicy("api", context =>
        RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? string.Empty, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = 8_000_000, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 })));
}
else if (floodgate)
{
    builder.Services.AddFloodgate();   // the "Floodgate" section of appsettings.json
    if (builder.Configuration["Floodgate:Redis:Configuration"] is not null)
    {
        builder.Services.AddFloodgateRedis();   // Floodgate:Redis: SyncMode Exact (a script per request) or Batched
    }
}
else if (peer)
{
    var redis = StackExchange.Redis.ConnectionMultiplexer.Connect(builder.Configuration["Redis"]!);
    builder.Services.AddRateLimiter(o => o.AddPolicy("api", context =>
        RedisRateLimiting.RedisRateLimitPartition.GetFixedWindowRateLimiter(
            context.Request.Headers["X-Api-Key"].ToString() is { Length: > 0 } key ? key : context.Connection.RemoteIpAddress?.ToString() ?? string.Empty,
            _ => new RedisRateLimiting.RedisFixedWindowRateLimiterOptions { ConnectionMultiplexerFactory = () => redis, PermitLimit = 8_000_000, Window = TimeSpan.FromMinutes(1) })));
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
else if (peer)
{
    app.UseWhen(_ => Volatile.Read(ref Switch.State) == 1, branch => branch.UseRateLimiter());
}
else if (mode == "switched")
{
    // Volatile: the switch is set by one request and read by every other, on any thread.
    app.UseWhen(_ => Volatile.Read(ref Switch.State) == 1, branch => branch.UseFloodgate());
    app.UseWhen(_ => Volatile.Read(ref Switch.State) == 2, branch => branch.Use((context, next) =>
    {
        // The values Floodgate sends on this app's first request, as constants: no limiter, no formatting.
        context.Response.Headers["RateLimit-Policy"] = "\"api\";q=8000000;w=60";
        context.Response.Headers["RateLimit"] = "\"api\";r=7999999;t=60";
        return next(context);
    }));
}

// The script reads the server's own count of requests served (with the bytes allocated and the process's CPU time)
// between two moments of a run, so a figure covers the server under steady load, never wrk's connecting or stopping.
long served = 0;
string Hello()
{
    Interlocked.Increment(ref served);
    return "Hello, world";
}

RouteHandlerBuilder limited = app.MapGet("/", Hello);
RouteHandlerBuilder keyed = app.MapGet("/keyed", Hello);   // Floodgate: counted per X-Api-Key (the "partners" policy)
app.MapGet("/free", Hello);
app.MapGet("/stats", () => string.Create(System.Globalization.CultureInfo.InvariantCulture,
    $"{Interlocked.Read(ref served)} {GC.GetTotalAllocatedBytes(precise: true)} {Switch.ProcessCpuNanoseconds()}"));
if (mode is "switched" or "switched-rrl")
{
    app.MapGet("/switch/{state:int}", (int state) =>
    {
        Volatile.Write(ref Switch.State, state);
        return "ok";
    });
}

if (mode is "builtin" or "switched-rrl")
{
    limited.RequireRateLimiting("api");
    if (peer)
    {
        keyed.RequireRateLimiting("api");
    }
}
else if (floodgate)
{
    limited.RequireFloodgate("api");
    keyed.RequireFloodgate("partners");
}

app.Run();

/// <summary>The `switched` mode's state, and the process's CPU time.</summary>
internal static partial class Switch
{
    public static int State;

    /// <summary>CPU time of all the process's threads, those that ended included (CLOCK_PROCESS_CPUTIME_ID), in ns.</summary>
    public static long ProcessCpuNanoseconds() => ClockGetTime(2, out TimeSpec time) == 0 ? (time.Seconds * 1_000_000_000) + time.Nanoseconds : -1;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
