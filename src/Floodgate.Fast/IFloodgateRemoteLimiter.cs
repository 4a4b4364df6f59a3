using System.ComponentModel;
using System.Net;

namespace Floodgate;

/// <summary>One endpoint policy's shared limiter, as the middleware and the admin endpoints use it.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IFloodgateRemoteLimiter : IAsyncDisposable
{
    /// <summary>Gets whether the store answers: false while checks fall back to the outage policy (the health check reports it).</summary>
    bool IsAvailable { get; }

    /// <summary>Raised when the store blocks, blacklists or releases a client (see <see cref="FloodgateLimiter.ClientStateChanged"/>).</summary>
    event EventHandler<FloodgateEventArgs>? ClientStateChanged;

    /// <summary>Counts a request and decides; never throws because of the store (its outage policy decides then).</summary>
    /// <param name="address">The client address.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>The decision.</returns>
    ValueTask<Decision> CheckAsync(IPAddress? address, CancellationToken cancellationToken);

    /// <summary>Counts a request costing <paramref name="cost"/> permits (all or none) and decides; as <see cref="CheckAsync(IPAddress?, CancellationToken)"/>.</summary>
    /// <param name="address">The client address.</param>
    /// <param name="cost">The permits the request costs.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>The decision.</returns>
    ValueTask<Decision> CheckAsync(IPAddress? address, int cost, CancellationToken cancellationToken);

    /// <summary>Counts a request of a client known by a key hash (see <see cref="FloodgateLimiter.CheckKey"/>): lists by <paramref name="address"/>, the rest by <paramref name="key"/>.</summary>
    /// <param name="address">The request's address, for the lists.</param>
    /// <param name="key">The client's key hash.</param>
    /// <param name="cost">The permits the request costs.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>The decision.</returns>
    ValueTask<Decision> CheckKeyAsync(IPAddress? address, IpKey key, int cost, CancellationToken cancellationToken);

    /// <summary>What a check would decide now, counting nothing (see <see cref="FloodgateLimiter.Peek(IPAddress?, int)"/>).</summary>
    /// <param name="address">The request's address.</param>
    /// <param name="key">The client's key hash, or null to use the address.</param>
    /// <param name="cost">The permits the request would cost.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>The decision a check would make now.</returns>
    ValueTask<Decision> PeekAsync(IPAddress? address, IpKey? key, int cost, CancellationToken cancellationToken);

    /// <summary>Gets a client's shared state, by its key (a key hash, or an address's key).</summary>
    /// <param name="key">The client's key.</param>
    /// <returns>The state.</returns>
    Task<ClientState> InspectAsync(IpKey key);

    /// <summary>Lifts a client's block for every instance, by its key.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns><see langword="true"/> when the client was blocked.</returns>
    Task<bool> UnblockAsync(IpKey key);

    /// <summary>Blacklists a client for every instance, by its key.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns><see langword="true"/> when the client was not blacklisted already.</returns>
    Task<bool> BlacklistAsync(IpKey key);

    /// <summary>Removes a client from the blacklist for every instance, by its key.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns><see langword="true"/> when the client was blacklisted.</returns>
    Task<bool> UnblacklistAsync(IpKey key);

    /// <summary>Gets a client's shared state.</summary>
    /// <param name="address">The client address.</param>
    /// <returns>The state.</returns>
    Task<ClientState> InspectAsync(IPAddress? address);

    /// <summary>Gets the blocked and blacklisted clients.</summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The clients.</returns>
    Task<IReadOnlyList<ClientState>> GetBlockedClientsAsync(CancellationToken cancellationToken);

    /// <summary>Lifts a client's block for every instance.</summary>
    /// <param name="address">The client address.</param>
    /// <returns><see langword="true"/> when the client was blocked.</returns>
    Task<bool> UnblockAsync(IPAddress? address);

    /// <summary>Blacklists a client for every instance.</summary>
    /// <param name="address">The client address.</param>
    /// <returns><see langword="true"/> when the client was not blacklisted already.</returns>
    Task<bool> BlacklistAsync(IPAddress? address);

    /// <summary>Removes a client from the blacklist for every instance.</summary>
    /// <param name="address">The client address.</param>
    /// <returns><see langword="true"/> when the client was blacklisted.</returns>
    Task<bool> UnblacklistAsync(IPAddress? address);

    /// <summary>Adds or removes a network on the shared allowlist or denylist.</summary>
    /// <param name="deny"><see langword="true"/> for the denylist.</param>
    /// <param name="network">The network.</param>
    /// <param name="add"><see langword="true"/> to add, <see langword="false"/> to remove.</param>
    /// <returns><see langword="true"/> when the shared list changed.</returns>
    Task<bool> ChangeListAsync(bool deny, IPNetwork network, bool add);

    /// <summary>
    /// Applies a changed policy while the app runs: the shared state is kept and the new numbers apply from the next
    /// check. The local table is the caller's: reconfigure it with <see cref="IFloodgateSharedStore{TShared}.LocalPolicy"/>.
    /// </summary>
    /// <param name="policy">The changed policy.</param>
    /// <exception cref="ArgumentException">The policy is invalid, or changes what the store cannot change in place.</exception>
    /// <exception cref="NotSupportedException">This store cannot change a policy while it runs (the default).</exception>
    void Reconfigure(FloodgatePolicy policy) => throw new NotSupportedException($"{GetType().Name} cannot change its policy while it runs; restart the app to apply it.");
}
