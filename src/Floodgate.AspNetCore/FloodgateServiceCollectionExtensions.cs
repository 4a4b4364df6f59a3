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
                foreach ((string name, FloodgatePolicy policy) in o.Policies)
                {
                    o.BoundPolicies[name] = policy;   // to tell, at startup, a policy that code replaced
                }

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

    /// <summary>A policy's <c>Costs</c>: entries of an <c>Endpoint</c> (<c>"GET /export"</c>) and a <c>Cost</c>; a malformed one goes to the validator.</summary>
    private static void ReadCosts(FloodgateOptions options, IConfigurationSection policy)
    {
        foreach (IConfigurationSection entry in policy.GetSection("Costs").GetChildren())
        {
            string setting = $"Floodgate:Policies:{policy.Key}:Costs:{entry.Key}";
            string? endpoint = entry["Endpoint"];
            if (string.IsNullOrWhiteSpace(endpoint) || !int.TryParse(entry["Cost"], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int cost))
            {
                options.KeyErrors.Add($"{setting} must have an Endpoint (a route pattern, optionally after a method: \"GET /export\") and a whole-number Cost; got Endpoint '{endpoint}', Cost '{entry["Cost"]}'.");
                continue;
            }

            options.ConfiguredCosts.Add(new Floodgate.AspNetCore.ConfiguredCost(policy.Key, endpoint, cost, setting));
        }
    }

    /// <summary>
    /// Each policy's <c>Key</c> ("Header:X-Api-Key"): not a knob of the engine's policy, so read here; errors go to the
    /// validator. A section holding only a key gives it to a policy defined elsewhere (in code, or by [FloodgatePolicy]).
    /// </summary>
    private static void ReadKeys(FloodgateOptions options, IConfigurationSection section)
    {
        foreach (IConfigurationSection policy in section.GetSection("Policies").GetChildren())
        {
            ReadCosts(options, policy);
            if (policy.GetChildren().All(setting => setting.Key.Equals("Key", StringComparison.OrdinalIgnoreCase) || setting.Key.Equals("Costs", StringComparison.OrdinalIgnoreCase)))
            {
                // Only a key or costs: for a policy defined in code or with [FloodgatePolicy], not a policy of its own.
                options.Policies.Remove(policy.Key);
            }

            if (policy["Key"] is not { } text)
            {
                continue;
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
