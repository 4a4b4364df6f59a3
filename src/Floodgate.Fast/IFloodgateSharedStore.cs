using System.ComponentModel;

namespace Floodgate;

/// <summary>
/// The one shape of a store that shares limits between app instances (Floodgate.Redis provides them): for each named
/// policy, a shared limiter of type <typeparamref name="TShared"/>, backed in process by a local table that answers
/// clients known to be banned without a round trip and decides while the store is unavailable. Endpoint policies
/// (<see cref="IFloodgateRemoteStore"/>) and outbound budgets (Floodgate.Http's <c>IOutboundStore</c>) have this shape.
/// </summary>
/// <typeparam name="TShared">The shared limiter of one policy.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IFloodgateSharedStore<out TShared>
    where TShared : IAsyncDisposable
{
    /// <summary>Gets the in-process policy that backs <paramref name="policy"/> locally (e.g. a share of its limit).</summary>
    /// <param name="policy">The shared policy.</param>
    /// <returns>The local policy.</returns>
    FloodgatePolicy LocalPolicy(FloodgatePolicy policy);

    /// <summary>Creates the shared limiter of one policy.</summary>
    /// <param name="name">The policy's name (the store's key prefix).</param>
    /// <param name="policy">The shared policy.</param>
    /// <param name="local">The local table, built from <see cref="LocalPolicy"/> and owned by the caller.</param>
    /// <returns>The shared limiter.</returns>
    TShared Create(string name, FloodgatePolicy policy, FloodgateLimiter local);
}
