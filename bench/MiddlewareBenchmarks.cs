using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Floodgate.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;

namespace Floodgate.Bench;

/// <summary>
/// One request through the middleware alone (no server): an app pipeline with nothing, with the built-in
/// <c>UseRateLimiter()</c> (a fixed window partitioned by <c>RemoteIpAddress.ToString()</c>, as the docs show) and with
/// <c>UseFloodgate()</c> (one policy, persistence off, RateLimit headers), on one endpoint, for 1,000 clients in turn, all
/// under their limits. What each request allocates is the figure to read: the built-in allocates the partition key
/// string; Floodgate the RateLimit header value. The cost inside a real server is <c>bench/http-bench.sh</c>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class MiddlewareBenchmarks
{
    private const int Clients = 1_000;

    private RequestDelegate _none = null!;
    private RequestDelegate _builtIn = null!;
    private RequestDelegate _floodgate = null!;
    private DefaultHttpContext[] _contexts = [];
    private ServiceProvider[] _services = [];

    [GlobalSetup]
    public void Setup()
    {
        // What an app host registers that the middleware needs (environment, configuration, logging), without a server.
        static IServiceCollection Host() => new ServiceCollection()
            .AddLogging()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().Build())
            .AddSingleton<IHostEnvironment>(new HostingEnvironment
            {
                EnvironmentName = Environments.Production,
                ApplicationName = "Floodgate.Bench",
                ContentRootPath = AppContext.BaseDirectory,
                ContentRootFileProvider = new NullFileProvider(),
            });
        ServiceProvider builtInServices = Host()
            .AddRateLimiter(o => o.AddPolicy("api", context =>
                RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? string.Empty, _ =>
                    new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue / 2, Window = TimeSpan.FromHours(1), QueueLimit = 0 })))
            .BuildServiceProvider();
        ServiceProvider floodgateServices = Host()
            .AddFloodgate(o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = FloodgatePolicy.MaxTotalPermits, Window = TimeSpan.FromHours(1) });
            })
            .BuildServiceProvider();
        _services = [builtInServices, floodgateServices];

        static Task Endpoint(HttpContext context) => Task.CompletedTask;
        _none = Endpoint;
        IApplicationBuilder builtIn = new ApplicationBuilder(builtInServices);
        builtIn.UseRateLimiter();
        builtIn.Run(Endpoint);
        _builtIn = builtIn.Build();
        IApplicationBuilder floodgate = new ApplicationBuilder(floodgateServices);
        floodgate.UseFloodgate();
        floodgate.Run(Endpoint);
        _floodgate = floodgate.Build();

        var endpoint = new Endpoint(Endpoint, new EndpointMetadataCollection(new EnableRateLimitingAttribute("api"), new FloodgateAttribute("api")), "GET /");
        _contexts = Enumerable.Range(0, Clients).Select(i =>
        {
            var context = new DefaultHttpContext();
            context.Connection.RemoteIpAddress = new IPAddress(BitConverter.GetBytes(0x0A000000 + i));
            context.SetEndpoint(endpoint);
            return context;
        }).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (ServiceProvider services in _services)
        {
            services.Dispose();
        }
    }

    [Benchmark(OperationsPerInvoke = Clients)]
    public async Task None() => await Run(_none).ConfigureAwait(false);

    [Benchmark(Baseline = true, OperationsPerInvoke = Clients)]
    public async Task BuiltIn() => await Run(_builtIn).ConfigureAwait(false);

    [Benchmark(OperationsPerInvoke = Clients)]
    public async Task Floodgate() => await Run(_floodgate).ConfigureAwait(false);

    private async Task Run(RequestDelegate app)
    {
        foreach (DefaultHttpContext context in _contexts)
        {
            await app(context).ConfigureAwait(false);
        }
    }
}
