using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Floodgate.Redis.Internal;

/// <summary>Outbound budgets on Redis: one <see cref="FloodgateRedisLimiter"/> per host policy, on one connection.</summary>
internal sealed class RedisOutboundStore : IOutboundStore
{
    private const int MaxPlainClientLength = 200;

    private readonly FloodgateRedisOptions _options;
    private readonly Lazy<IConnectionMultiplexer> _connection;
    private readonly bool _ownsConnection;

    /// <param name="options">The settings (a copy this store may change).</param>
    /// <param name="app">The app's store, whose connection is used when <paramref name="options"/> names none.</param>
    public RedisOutboundStore(FloodgateRedisOptions options, RedisPolicyStore? app)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate Redis configuration for outbound budgets: " + string.Join(" ", errors), nameof(options));
        }

        _options = options;
        _ownsConnection = options.ConnectionMultiplexer is null && app is null;
        _connection = new Lazy<IConnectionMultiplexer>(() => options.ConnectionMultiplexer ?? app?.Connection ?? FloodgateRedisLimiter.Connect(options));
    }

    public FloodgatePolicy LocalPolicy(FloodgatePolicy policy) => FloodgateRedisLimiter.LocalPolicy(policy, _options.LocalFallbackShare);

    public IOutboundBudget Create(string name, FloodgatePolicy policy, FloodgateLimiter local)
    {
        FloodgateRedisOptions options = _options.Clone();
        options.ConnectionMultiplexer = _connection.Value;
        options.OperatorSync = false;
        return new Budget(new FloodgateRedisLimiter(name, policy, options, local));
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection && _connection.IsValueCreated)
        {
            await _connection.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The budget's name on Redis, the same on every instance: host (and port), then the partition; hashed when it
    /// is long or has characters that do not belong in a key's hash tag.
    /// </summary>
    internal static string ClientId(string budget, string? partition)
    {
        string id = partition is null ? budget : budget + "|" + partition;
        if (id.Length <= MaxPlainClientLength && !id.AsSpan().ContainsAny("{}\r\n\0"))
        {
            return id;
        }

        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)));
    }

    private sealed class Budget(FloodgateRedisLimiter limiter) : IOutboundBudget
    {
        public ValueTask<Decision> CheckAsync(IpKey key, string budget, string? partition, CancellationToken cancellationToken) =>
            limiter.CheckAsync(key, ClientId(budget, partition), cancellationToken);

        public async Task<bool> BlockForAsync(IpKey key, string budget, string? partition, TimeSpan duration)
        {
            try
            {
                return await limiter.BlockForAsync(key, ClientId(budget, partition), duration).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // The local table holds the backoff already; the other instances find the limit hit on their own.
                return true;
            }
        }

        public ValueTask DisposeAsync() => limiter.DisposeAsync();
    }
}
