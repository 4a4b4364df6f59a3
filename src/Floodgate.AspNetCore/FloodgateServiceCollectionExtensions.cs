using Floodgate;
using Floodgate.AspNetCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Floodgate in an ASP.NET Core app.</summary>
public static class FloodgateServiceCollectionExtensions
{
    /// <summary>
    /// Adds Floodgate, bound from the <c>"Floodgate"</c> configuration section and then <paramref name="configure"/>;
    /// every setting is validated when the app starts, and a bad one stops it with a message naming it.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Policies and settings in code.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddFloodgate(this IServiceCollection services, Action<FloodgateOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<FloodgateOptions> options = services.AddOptions<FloodgateOptions>().BindConfiguration("Floodgate");
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FloodgateOptions>, FloodgateOptionsValidator>());
        services.TryAddSingleton<FloodgateService>();
        return services;
    }
}
