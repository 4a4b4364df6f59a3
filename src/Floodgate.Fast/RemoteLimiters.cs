using System.Net;

namespace Floodgate;

/// <summary>
/// A shared store for the ASP.NET Core adapter's endpoint policies (Floodgate.Redis registers one; the interface lives in
/// the engine so that Floodgate.Redis does not depend on the adapter): when present, every policy is checked
/// against the store, and the in-process limiter of each policy becomes its local table (known bans, fallback).
/// </summary>
internal interface IFloodgateRemoteStore
{
    /// <summary>The in-process policy that backs <paramref name="policy"/> locally (e.g. a share of its limit).</summary>
    FloodgatePolicy LocalPolicy(FloodgatePolicy policy);

    /// <summary>The shared limiter of one policy, with <paramref name="local"/> (built from <see cref="LocalPolicy"/>) as its local table.</summary>
    IFloodgateRemoteLimiter Create(string name, FloodgatePolicy policy, FloodgateLimiter local);
}

/// <summary>One policy's shared limiter, as the middleware and the admin endpoints use it.</summary>
internal interface IFloodgateRemoteLimiter : IAsyncDisposable
{
    event EventHandler<FloodgateEventArgs>? ClientStateChanged;

    ValueTask<Decision> CheckAsync(IPAddress? address, CancellationToken cancellationToken);

    Task<ClientState> InspectAsync(IPAddress? address);

    Task<IReadOnlyList<ClientState>> GetBlockedClientsAsync(CancellationToken cancellationToken);

    Task<bool> UnblockAsync(IPAddress? address);

    Task<bool> BlacklistAsync(IPAddress? address);

    Task<bool> UnblacklistAsync(IPAddress? address);

    /// <summary>Adds or removes a network on the shared allowlist or denylist; true when the shared list changed.</summary>
    Task<bool> ChangeListAsync(bool deny, IPNetwork network, bool add);
}
