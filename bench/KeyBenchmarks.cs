using System.Net;
using System.Security.Cryptography;
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
/// A check per API key: 10,000 keys (40-character header values), each from its own address, one thread, all under
/// their limits. Baseline: the built-in partitioned fixed window keyed by the key string itself (what the docs show for
/// a header key). Floodgate hashes the value (SipHash-2-4-128 with the app's secret) and checks the hash;
/// <c>FloodgateByAddress</c> is the same check by address, to show what the hash adds.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class KeyCheckBenchmarks
{
    private const int Keys = 10_000;
    private const int ChecksPerInvoke = 100_000;

    private string[] _keys = [];
    private IPAddress[] _addresses = [];
    private PartitionedRateLimiter<string> _builtIn = null!;
    private FloodgateLimiter _floodgate = null!;
    private FloodgateKeyHasher _hasher = null!;

    [GlobalSetup]
    public void Setup()
    {
        _keys = Enumerable.Range(0, Keys).Select(i => $"sk_live_{i:D8}_{Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i)))[..24]}").ToArray();
        _addresses = Enumerable.Range(0, Keys).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i))).ToArray();
        _builtIn = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue / 2, Window = TimeSpan.FromHours(1), QueueLimit = 0, AutoReplenishment = false }));
        _floodgate = new FloodgateLimiter(new FloodgatePolicy { PermitLimit = FloodgatePolicy.MaxTotalPermits, Window = TimeSpan.FromHours(1) }, new FloodgateLimiterOptions { Capacity = Keys * 4 });
        _hasher = new FloodgateKeyHasher(RandomNumberGenerator.GetBytes(32));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builtIn.Dispose();
        _floodgate.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChecksPerInvoke)]
    public int BuiltIn()
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            using RateLimitLease lease = _builtIn.AttemptAcquire(_keys[i % Keys]);
            allowed += lease.IsAcquired ? 1 : 0;
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int Floodgate()
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            IpKey key = _hasher.Hash(_keys[i % Keys]);
            allowed += _floodgate.CheckKey(_addresses[i % Keys], in key).IsAllowed ? 1 : 0;
        }

        return allowed;
    }

    [Benchmark(OperationsPerInvoke = ChecksPerInvoke)]
    public int FloodgateByAddress()
    {
        int allowed = 0;
        for (int i = 0; i < ChecksPerInvoke; i++)
        {
            allowed += _floodgate.Check(_addresses[i % Keys]).IsAllowed ? 1 : 0;
        }

        return allowed;
    }
}

/// <summary>
/// One request through the middleware alone (no server), keyed by an <c>X-Api-Key</c> header: the built-in
/// <c>UseRateLimiter()</c> partitioned by the header's value, and <c>UseFloodgate()</c> with a policy keyed by
/// <c>Header:X-Api-Key</c>; 1,000 keys in turn, all under their limits (as <see cref="MiddlewareBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class KeyMiddlewareBenchmarks
{
    private const int Clients = 1_000;

    private RequestDelegate _builtIn = null!;
    private RequestDelegate _floodgate = null!;
    private DefaultHttpContext[] _contexts = [];
    private ServiceProvider[] _services = [];

    [GlobalSetup]
    public void Setup()
    {
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
                RateLimitPartition.GetFixedWindowLimiter(context.Request.Headers["X-Api-Key"].ToString(), _ =>
                    new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue / 2, Window = TimeSpan.FromHours(1), QueueLimit = 0 })))
            .BuildServiceProvider();
        ServiceProvider floodgateServices = Host()
            .AddFloodgate(o =>
            {
                o.Persistence = false;
                o.KeySecret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = FloodgatePolicy.MaxTotalPermits, Window = TimeSpan.FromHours(1) }, FloodgateKey.Header("X-Api-Key"));
            })
            .BuildServiceProvider();
        _services = [builtInServices, floodgateServices];

        static Task Endpoint(HttpContext context) => Task.CompletedTask;
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
            context.Request.Headers["X-Api-Key"] = $"sk_live_{i:D8}_{Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i)))[..24]}";
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
