using Floodgate.Redis.Internal;

namespace Floodgate;

/// <summary>Shares an <see cref="HttpClient"/>'s outbound per-host budgets between app instances through Redis.</summary>
public static class FloodgateOutboundRedisExtensions
{
    /// <summary>
    /// Makes every host policy of these outbound options one budget for all app instances: N instances calling one
    /// site respect one limit, and a backoff (the limit hit, or an upstream 429/503 with <c>Retry-After</c>) reaches
    /// every instance. Each check is one script on Redis; hosts known to be in backoff are answered locally; while
    /// Redis is unavailable the <see cref="FloodgateRedisOptions.OutagePolicy"/> decides, as for endpoint policies.
    /// </summary>
    /// <param name="options">The outbound options.</param>
    /// <param name="redis">
    /// Where Redis is; <see langword="null"/> uses the app's <c>AddFloodgateRedis()</c> settings and connection (the
    /// outbound limiter must then be made by <c>IHttpClientFactory</c>, through <c>AddFloodgateOutbound</c>).
    /// </param>
    /// <returns>The outbound options.</returns>
    /// <example><code>
    /// builder.Services.AddHttpClient("github").AddFloodgateOutbound(o => o
    ///     .AddHost("api.github.com", new FloodgatePolicy { PermitLimit = 80, Window = TimeSpan.FromMinutes(1) })
    ///     .UseRedis());
    /// </code></example>
    public static FloodgateOutboundOptions UseRedis(this FloodgateOutboundOptions options, FloodgateRedisOptions? redis = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        FloodgateRedisOptions? copy = redis?.Clone();
        options.SharedStore = services =>
        {
            RedisPolicyStore? app = copy is null ? services?.GetService(typeof(RedisPolicyStore)) as RedisPolicyStore : null;
            if (copy is null && app is null)
            {
                throw new InvalidOperationException(
                    "FloodgateOutboundOptions.UseRedis() without options needs builder.Services.AddFloodgateRedis() and a client made by IHttpClientFactory (AddFloodgateOutbound); or pass FloodgateRedisOptions.");
            }

            FloodgateRedisOptions settings = copy?.Clone() ?? app!.Settings.Clone();
            if (ReferenceEquals(settings.TimeProvider, TimeProvider.System))
            {
                settings.TimeProvider = options.TimeProvider;
            }

            settings.Logger ??= options.Logger;
            return new RedisOutboundStore(settings, app);
        };
        return options;
    }
}
