using Floodgate;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Floodgate's per-host outbound limits to clients made by <c>IHttpClientFactory</c>.</summary>
public static class FloodgateOutboundHttpClientBuilderExtensions
{
    /// <summary>Limits this client's calls per destination host. The budgets are shared by all of the client's handlers.</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="configure">Sets the policies.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddFloodgateOutbound(this IHttpClientBuilder builder, Action<FloodgateOutboundOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddKeyedSingleton(builder.Name, (services, _) =>
        {
            var options = new FloodgateOutboundOptions
            {
                TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System,
                Logger = services.GetService<ILoggerFactory>()?.CreateLogger("Floodgate.Outbound"),
                Name = builder.Name,
            };
            configure(options);
            return new OutboundLimiter(options, services);
        });
        return builder.AddHttpMessageHandler(services => new FloodgateOutboundHandler(services.GetRequiredKeyedService<OutboundLimiter>(builder.Name)));
    }

    /// <summary>Limits this client's calls per destination host, from configuration (e.g. the <c>"Floodgate:Outbound"</c> section).</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="section">The section: <c>DefaultPolicy</c>, <c>Hosts</c> (host → policy), <c>Backoff</c>, <c>MaxWait</c>, …</param>
    /// <param name="configure">Optional changes after binding.</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddFloodgateOutbound(this IHttpClientBuilder builder, IConfiguration section, Action<FloodgateOutboundOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.AddFloodgateOutbound(options =>
        {
            FloodgateConfiguration.WithDurations(section).Bind(options);
            configure?.Invoke(options);
        });
    }
}
