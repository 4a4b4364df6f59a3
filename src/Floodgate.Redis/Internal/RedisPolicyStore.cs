using System.Diagnostics.Metrics;
using System.Net;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Floodgate.Redis.Internal;

/// <summary>The adapter's shared store: one Redis connection for all policies, one <see cref="FloodgateRedisLimiter"/> per policy.</summary>
internal sealed class RedisPolicyStore : IFloodgateRemoteStore, IAsyncDisposable
{
    private readonly FloodgateRedisOptions _options;
    private readonly Lazy<IConnectionMultiplexer> _connection;
    private readonly bool _ownsConnection;

    public RedisPolicyStore(IOptions<FloodgateRedisOptions> options, ILoggerFactory loggers, IServiceProvider services)
    {
        _options = options.Value.Clone();
        _options.Logger ??= loggers.CreateLogger("Floodgate.Redis");
        _options.MeterFactory ??= (IMeterFactory?)services.GetService(typeof(IMeterFactory));
        if (services.GetService(typeof(TimeProvider)) is TimeProvider time && ReferenceEquals(_options.TimeProvider, TimeProvider.System))
        {
            _options.TimeProvider = time;
        }

        _ownsConnection = _options.ConnectionMultiplexer is null;
        _connection = new Lazy<IConnectionMultiplexer>(() => _options.ConnectionMultiplexer ?? FloodgateRedisLimiter.Connect(_options));
    }

    /// <summary>Gets the app's settings (outbound budgets shared with <c>UseRedis()</c> use them too).</summary>
    internal FloodgateRedisOptions Settings => _options;

    /// <summary>Gets the app's one connection.</summary>
    internal IConnectionMultiplexer Connection => _connection.Value;

    public FloodgatePolicy LocalPolicy(FloodgatePolicy policy) => FloodgateRedisLimiter.LocalPolicy(policy, _options.LocalFallbackShare);

    public IFloodgateRemoteLimiter Create(string name, FloodgatePolicy policy, FloodgateLimiter local)
    {
        FloodgateRedisOptions options = _options.Clone();
        options.ConnectionMultiplexer = _connection.Value;
        return new Shared(new FloodgateRedisLimiter(name, policy, options, local));
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection && _connection.IsValueCreated)
        {
            await _connection.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The adapter's view of one policy's limiter.</summary>
    private sealed class Shared(FloodgateRedisLimiter limiter) : IFloodgateRemoteLimiter
    {
        public event EventHandler<FloodgateEventArgs>? ClientStateChanged
        {
            add => limiter.ClientStateChanged += value;
            remove => limiter.ClientStateChanged -= value;
        }

        public bool IsAvailable => limiter.IsRedisAvailable;

        public ValueTask<Decision> CheckAsync(IPAddress? address, CancellationToken cancellationToken) => limiter.CheckAsync(address, cancellationToken);

        public ValueTask<Decision> CheckAsync(IPAddress? address, int cost, CancellationToken cancellationToken) => limiter.CheckAsync(address, cost, cancellationToken);

        public Task<ClientState> InspectAsync(IPAddress? address) => limiter.InspectAsync(address);

        public Task<IReadOnlyList<ClientState>> GetBlockedClientsAsync(CancellationToken cancellationToken) => limiter.GetBlockedClientsAsync(cancellationToken);

        public Task<bool> UnblockAsync(IPAddress? address) => limiter.UnblockAsync(address);

        public Task<bool> BlacklistAsync(IPAddress? address) => limiter.BlacklistAsync(address);

        public Task<bool> UnblacklistAsync(IPAddress? address) => limiter.UnblacklistAsync(address);

        public ValueTask<Decision> CheckKeyAsync(IPAddress? address, IpKey key, int cost, CancellationToken cancellationToken) => limiter.CheckKeyAsync(address, key, cost, cancellationToken);

        public Task<ClientState> InspectAsync(IpKey key) => limiter.InspectAsync(key);

        public ValueTask<Decision> PeekAsync(IPAddress? address, IpKey? key, int cost, CancellationToken cancellationToken) => limiter.PeekAsync(address, key, cost, cancellationToken);

        public Task<bool> UnblockAsync(IpKey key) => limiter.UnblockAsync(key);

        public Task<bool> BlacklistAsync(IpKey key) => limiter.BlacklistAsync(key);

        public Task<bool> UnblacklistAsync(IpKey key) => limiter.UnblacklistAsync(key);

        public Task<bool> ChangeListAsync(bool deny, IPNetwork network, bool add) =>
            add ? (deny ? limiter.SharedDenylist : limiter.SharedAllowlist).AddAsync(network)
                : (deny ? limiter.SharedDenylist : limiter.SharedAllowlist).RemoveAsync(network);

        public void Reconfigure(FloodgatePolicy policy) => limiter.Reconfigure(policy);

        public ValueTask DisposeAsync() => limiter.DisposeAsync();
    }
}
