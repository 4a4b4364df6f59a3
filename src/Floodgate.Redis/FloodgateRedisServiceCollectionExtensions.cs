using Floodgate;

using Floodgate.Redis.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Turns on scale-out: the app's Floodgate endpoint policies are shared with every instance through Redis.</summary>
public static class FloodgateRedisServiceCollectionExtensions
{
    /// <summary>
    /// Runs every Floodgate endpoint policy on Redis (bound from the <c>"Floodgate:Redis"</c> configuration section,
    /// then <paramref name="configure"/>), with the same responses, headers and events; the global guard stays in
    /// process. Settings are validated when the app starts. Call it beside <c>AddFloodgate()</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Settings in code, e.g. <c>o =&gt; o.Configuration = "localhost:6379"</c>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddFloodgateRedis(this IServiceCollection services, Action<FloodgateRedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Bound through FloodgateConfiguration, so durations read "250ms" as well as "00:00:00.250"; reloads are tracked as BindConfiguration does.
        OptionsBuilder<FloodgateRedisOptions> options = services.AddOptions<FloodgateRedisOptions>()
            .Configure<IConfiguration>(static (o, configuration) => FloodgateConfiguration.WithDurations(configuration.GetSection("Floodgate:Redis")).Bind(o));
        services.AddSingleton<IOptionsChangeTokenSource<FloodgateRedisOptions>>(provider => new ConfigurationChangeTokenSource<FloodgateRedisOptions>(provider.GetRequiredService<IConfiguration>()));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // Two apps on one Redis must not share their "login" state by accident: the default prefix names the app.
        options.PostConfigure<IConfiguration>(static (o, configuration) =>
        {
            if (o.KeyPrefix == FloodgateRedisOptions.DefaultKeyPrefix)
            {
                o.KeyPrefix = FloodgateRedisOptions.PrefixFor(configuration["applicationName"] ?? System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name);
            }
        });
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FloodgateRedisOptions>, FloodgateRedisOptionsValidator>());
        services.TryAddSingleton<RedisPolicyStore>();
        services.TryAddSingleton<IFloodgateRemoteStore>(provider => provider.GetRequiredService<RedisPolicyStore>());
        return services;
    }
}
