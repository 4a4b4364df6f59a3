using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Floodgate;

/// <summary>
/// An allowlist or denylist of one policy kept on Redis (a set, <c>{KeyPrefix}{policy}:allowlist</c> or
/// <c>:denylist</c>), so that every instance applies it. Each instance mirrors the entries into its local list
/// (<see cref="FloodgateRedisLimiter.Allowlist"/>, <see cref="FloodgateRedisLimiter.Denylist"/>), where checks look
/// them up without a round trip: a change reaches every instance through pub/sub within milliseconds, and one that
/// missed the message corrects at its next sync (<see cref="FloodgateRedisOptions.BanSyncInterval"/>, and at reconnection).
/// </summary>
public sealed class SharedAccessList
{
    private readonly FloodgateRedisLimiter _limiter;
    private readonly bool _deny;

    internal SharedAccessList(FloodgateRedisLimiter limiter, bool deny)
    {
        _limiter = limiter;
        _deny = deny;
    }

    /// <summary>Adds a network for every instance.</summary>
    /// <param name="network">The network, e.g. <c>IPNetwork.Parse("10.0.0.0/8")</c>.</param>
    /// <returns>True when it was not on the shared list before.</returns>
    /// <exception cref="ArgumentException">The network is not IPv4 or IPv6, or covers every client of a family (<see cref="AccessList.CoversAnAddressFamily"/>).</exception>
    /// <exception cref="RedisException">Redis is unavailable: the change did not happen.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> AddAsync(IPNetwork network) => _limiter.ChangeListAsync(_deny, network, add: true);

    /// <summary>Adds one address for every instance.</summary>
    /// <param name="address">The address.</param>
    /// <returns>True when it was not on the shared list before.</returns>
    /// <exception cref="RedisException">Redis is unavailable: the change did not happen.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> AddAsync(IPAddress address) => AddAsync(Single(address));

    /// <summary>
    /// Removes a network for every instance: from the shared list, and from each instance's local list (also when that
    /// instance had it from its own configuration, until it restarts).
    /// </summary>
    /// <param name="network">The network.</param>
    /// <returns>True when it was on the shared list.</returns>
    /// <exception cref="ArgumentException">The network is not IPv4 or IPv6.</exception>
    /// <exception cref="RedisException">Redis is unavailable: the change did not happen.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> RemoveAsync(IPNetwork network) => _limiter.ChangeListAsync(_deny, network, add: false);

    /// <summary>Removes one address for every instance.</summary>
    /// <param name="address">The address.</param>
    /// <returns>True when it was on the shared list.</returns>
    /// <exception cref="RedisException">Redis is unavailable: the change did not happen.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> RemoveAsync(IPAddress address) => RemoveAsync(Single(address));

    /// <summary>Reads the shared entries from Redis (not the entries an instance has from its own configuration).</summary>
    /// <returns>The entries.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<IReadOnlyList<IPNetwork>> GetEntriesAsync() => _limiter.ReadListAsync(_deny);

    private static IPNetwork Single(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
    }
}
