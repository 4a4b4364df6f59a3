using Floodgate;
using Floodgate.AspNetCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Floodgate in an ASP.NET Core app.</summary>
public static class FloodgateServiceCollectionExtensions
{
    /// <summary>
    /// Adds Floodgate, bound from the <c>"Floodgate"</c> configuration section and then <paramref name="configure"/>;
    /// every setting is validated when the app starts, and a bad one stops it with a message naming it. The policies
    /// declared with <c>[FloodgatePolicy]</c> (<see cref="FloodgatePolicyRegistry.Generated"/>) are added too, each
    /// with its precompiled checker; a name defined both ways stops the app with both places named.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Policies and settings in code.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddFloodgate(this IServiceCollection services, Action<FloodgateOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Bound through FloodgateConfiguration, so durations read "30s" as well as "00:00:30"; reloads are tracked as BindConfiguration does.
        OptionsBuilder<FloodgateOptions> options = services.AddOptions<FloodgateOptions>()
            .Configure<IConfiguration>(static (o, configuration) =>
            {
                IConfigurationSection section = configuration.GetSection("Floodgate");
                FloodgateConfiguration.WithDurations(section).Bind(o);
                ReadKeys(o, section);
            });
        services.AddSingleton<IOptionsChangeTokenSource<FloodgateOptions>>(provider => new ConfigurationChangeTokenSource<FloodgateOptions>(provider.GetRequiredService<IConfiguration>()));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FloodgateOptions>, FloodgateOptionsValidator>());
        // The policies the source generator registered ([FloodgatePolicy]); an app or a test may register its own registry.
        services.TryAddSingleton(FloodgatePolicyRegistry.Generated);
        services.TryAddSingleton<FloodgateService>();
        return services;
    }

    /// <summary>
    /// Each policy's <c>Key</c> ("Header:X-Api-Key"): not a knob of the engine's policy, so read here; errors go to the
    /// validator. A section holding only a key gives it to a policy defined elsewhere (in code, or by [FloodgatePolicy]).
    /// </summary>
    private static void ReadKeys(FloodgateOptions options, IConfigurationSection section)
    {
        foreach (IConfigurationSection policy in section.GetSection("Policies").GetChildren())
        {
            if (policy["Key"] is not { } text)
            {
                continue;
            }

            if (policy.GetChildren().All(setting => setting.Key.Equals("Key", StringComparison.OrdinalIgnoreCase)))
            {
                // Only a key: the key of a policy defined in code or with [FloodgatePolicy], not a policy of its own.
                options.Policies.Remove(policy.Key);
            }

            if (FloodgateKey.TryParse(text, out FloodgateKey key))
            {
                options.SetKey(policy.Key, key);
            }
            else
            {
                options.KeyErrors.Add($"Floodgate:Policies:{policy.Key}:Key must be Address, Header:<name>, Claim:<type> or Route:<name>; got '{text}'.");
            }
        }
    }
}
