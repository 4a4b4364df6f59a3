using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>No surprises with Redis: two apps on one server do not share state by default; the challenge says it is off.</summary>
public sealed class RedisConfigurationTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public void TheAdaptersKnownRedisSettingsAreEveryBindableOptionOfFloodgateRedisOptions()
    {
        // The adapter checks the names under Floodgate:Redis (a misspelt one stops startup); this keeps its list true.
        var bindable = typeof(FloodgateRedisOptions).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => (p.SetMethod?.IsPublic == true && (p.PropertyType.IsPrimitive || p.PropertyType.IsEnum || p.PropertyType == typeof(string) || p.PropertyType == typeof(TimeSpan))) ||
                (p.PropertyType.IsGenericType && p.PropertyType.GetGenericTypeDefinition() == typeof(IDictionary<,>)))
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal);
        Assert.Equal(bindable, Floodgate.AspNetCore.KnownSettings.Redis.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void SyncModeIntervalShareAndPolicyOverridesBindFromConfiguration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Floodgate:Redis:Configuration"] = "localhost:6379",
            ["Floodgate:Redis:SyncMode"] = "Batched",
            ["Floodgate:Redis:SyncInterval"] = "50ms",
            ["Floodgate:Redis:BatchedShare"] = "0.1",
            ["Floodgate:Redis:PolicySyncModes:login"] = "Exact",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddFloodgateRedis();
        using ServiceProvider provider = services.BuildServiceProvider();
        FloodgateRedisOptions options = provider.GetRequiredService<IOptions<FloodgateRedisOptions>>().Value;
        Assert.Equal(RedisSyncMode.Batched, options.SyncMode);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.SyncInterval);
        Assert.Equal(0.1, options.BatchedShare);
        Assert.Equal(RedisSyncMode.Exact, options.PolicySyncModes["login"]);
        Assert.Equal(RedisSyncMode.Exact, options.PolicySyncModes["LOGIN"]);   // configuration keys are case-insensitive

        // Bad values name the setting.
        var bad = new FloodgateRedisOptions { Configuration = "localhost:6379", SyncInterval = TimeSpan.FromMilliseconds(1), BatchedShare = 0 };
        IReadOnlyList<string> errors = bad.Validate();
        Assert.Contains(errors, e => e.Contains("SyncInterval", StringComparison.Ordinal) && e.Contains("00:00:00.0010000", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("BatchedShare", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheDefaultKeyPrefixNamesTheAppSoTwoAppsDoNotShareTheirLoginState()
    {
        string shop = "shop" + Guid.NewGuid().ToString("N")[..6];
        string blog = "blog" + Guid.NewGuid().ToString("N")[..6];
        var logs = new CapturingLoggerProvider();
        await using WebApplication first = await StartAppAsync(shop, logs);
        await using WebApplication second = await StartAppAsync(blog, logs);
        using HttpClient toShop = AdapterTests.ClientFrom(first, 2);
        using HttpClient toBlog = AdapterTests.ClientFrom(second, 2);
        Assert.Equal(HttpStatusCode.OK, (await toShop.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await toShop.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await toBlog.PostAsync("/login", null)).StatusCode);   // another app: its own state

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        IServer server = connection.GetServers().Single();
        Assert.NotEmpty(server.Keys(pattern: $"floodgate:{shop}:login:*"));
        Assert.NotEmpty(server.Keys(pattern: $"floodgate:{blog}:login:*"));

        // The challenge was enabled, and with Redis it cannot be offered: startup said so.
        Assert.Contains(logs.Entries, e => e.Id == 309 && e.Level == LogLevel.Warning);
    }

    private async Task<WebApplication> StartAppAsync(string applicationName, CapturingLoggerProvider logs)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = applicationName,
            ContentRootPath = Path.GetTempPath(),
            EnvironmentName = Environments.Production,
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Challenge:Enabled"] = "true",
            ["Floodgate:Policies:login:PermitLimit"] = "1",
            ["Floodgate:Policies:login:Window"] = "1m",
            ["Floodgate:Redis:Configuration"] = redis.Configuration,
        });
        builder.Services.AddFloodgate();
        builder.Services.AddFloodgateRedis();
        WebApplication app = builder.Build();
        app.UseFloodgate();
        app.MapPost("/login", () => "nope").RequireFloodgate("login");
        await app.StartAsync();
        return app;
    }
}
