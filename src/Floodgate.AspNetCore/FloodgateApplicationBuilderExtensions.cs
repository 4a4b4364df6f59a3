using Floodgate;
using Floodgate.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds Floodgate to the request pipeline and to endpoints.</summary>
public static class FloodgateApplicationBuilderExtensions
{
    /// <summary>
    /// Checks requests against the global limit and the policies of their endpoint. Place it after routing (and after
    /// <c>UseForwardedHeaders</c>, which alone decides the client address from trusted proxies).
    /// </summary>
    /// <param name="app">The app.</param>
    /// <returns>The app.</returns>
    public static IApplicationBuilder UseFloodgate(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.UseMiddleware<FloodgateMiddleware>();
    }

    /// <summary>Applies named Floodgate policies to the endpoints; all of them apply.</summary>
    /// <typeparam name="TBuilder">The endpoint builder.</typeparam>
    /// <param name="builder">The endpoints.</param>
    /// <param name="policyNames">The policies.</param>
    /// <returns>The builder.</returns>
    public static TBuilder RequireFloodgate<TBuilder>(this TBuilder builder, params string[] policyNames)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithMetadata(policyNames.Select(name => (object)new FloodgateAttribute(name)).ToArray());
    }

    /// <summary>
    /// Applies a Floodgate policy to the endpoints, each request costing <paramref name="cost"/> of its permits (all of
    /// them or none); <c>RateLimit</c>'s remaining counts permits.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint builder.</typeparam>
    /// <param name="builder">The endpoints.</param>
    /// <param name="policy">The policy.</param>
    /// <param name="cost">The permits one request costs: 1 to the policy's PermitLimit (a token bucket's Burst), checked at startup.</param>
    /// <returns>The builder.</returns>
    public static TBuilder RequireFloodgate<TBuilder>(this TBuilder builder, string policy, int cost = 1)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithMetadata(new FloodgateAttribute(policy) { Cost = cost });
    }

    /// <summary>Exempts the endpoints from every per-client Floodgate policy, the default one included.</summary>
    /// <typeparam name="TBuilder">The endpoint builder.</typeparam>
    /// <param name="builder">The endpoints.</param>
    /// <returns>The builder.</returns>
    public static TBuilder DisableFloodgate<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DisableFloodgateAttribute());
}
