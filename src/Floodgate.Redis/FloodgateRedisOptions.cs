using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Floodgate;

/// <summary>Settings of <see cref="FloodgateRedisLimiter"/>: where Redis is, how keys are named, and what happens when it is down.</summary>
public sealed class FloodgateRedisOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string: one server (<c>"localhost:6379"</c>) or several
    /// cluster nodes (<c>"10.0.0.1:7000,10.0.0.2:7000"</c>), with any of its options (<c>password=</c>, <c>ssl=true</c>).
    /// Ignored when <see cref="ConnectionMultiplexer"/> is set.
    /// </summary>
    /// <value>The default value is <see langword="null"/>; one of the two is required.</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets a connection the app already has. Floodgate does not dispose it.</summary>
    /// <value>The default value is <see langword="null"/>: Floodgate connects with <see cref="Configuration"/>.</value>
    public IConnectionMultiplexer? ConnectionMultiplexer { get; set; }

    /// <summary>
    /// Gets or sets the prefix of every key and of the pub/sub channel. A client's state under a policy is the hash
    /// <c>{KeyPrefix}{policy}:{{client}}</c>: the client in braces is the hash tag, so all its keys share a cluster slot.
    /// </summary>
    /// <value>The default value is <c>"floodgate:"</c>; through <c>AddFloodgateRedis()</c>, <c>"floodgate:&lt;application name&gt;:"</c>.</value>
    public string KeyPrefix { get; set; } = DefaultKeyPrefix;

    /// <summary>
    /// The prefix a limiter built directly gets. Through <c>AddFloodgateRedis()</c> an unchanged prefix becomes
    /// <c>floodgate:&lt;application name&gt;:</c>, so two apps on one Redis never share state by accident; set
    /// <see cref="KeyPrefix"/> to the same value in apps that should.
    /// </summary>
    public const string DefaultKeyPrefix = "floodgate:";

    /// <summary>The default prefix of an app: <c>floodgate:&lt;name&gt;:</c>, the name without braces (they mark the hash tag).</summary>
    internal static string PrefixFor(string? applicationName) =>
        string.IsNullOrWhiteSpace(applicationName) ? DefaultKeyPrefix : "floodgate:" + applicationName.Replace("{", string.Empty, StringComparison.Ordinal).Replace("}", string.Empty, StringComparison.Ordinal) + ":";

    /// <summary>
    /// Gets or sets how policies count across instances: <see cref="RedisSyncMode.Exact"/> (a round trip per request) or
    /// <see cref="RedisSyncMode.Batched"/> (in process, exchanging counts every <see cref="SyncInterval"/>).
    /// <see cref="PolicySyncModes"/> sets it per policy. A policy with a cooldown is always exact.
    /// </summary>
    /// <value>The default value is <see cref="RedisSyncMode.Exact"/>.</value>
    public RedisSyncMode SyncMode { get; set; } = RedisSyncMode.Exact;

    /// <summary>
    /// Gets the sync mode of single policies by name, over <see cref="SyncMode"/>: <c>Exact</c> for a login limit of 5
    /// in an app whose other policies are <c>Batched</c>, say. Configuration: <c>Floodgate:Redis:PolicySyncModes:&lt;policy&gt;</c>.
    /// </summary>
    public IDictionary<string, RedisSyncMode> PolicySyncModes => _policySyncModes;

    private Dictionary<string, RedisSyncMode> _policySyncModes = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets how often a batched policy sends what its clients spent on this instance and takes their totals
    /// across instances: a longer interval costs Redis less and learns of other instances' use later.
    /// </summary>
    /// <value>The default value is 100 ms.</value>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Gets or sets the share of a batched policy's limit (a token bucket's Burst) one instance admits for a client on its
    /// own before its next exchange is answered; past it, the client's requests are checked on Redis until then. All
    /// instances together admit at most <c>instances × share × limit</c> permits beyond the limit (docs/scale-out.md).
    /// </summary>
    /// <value>The default value is 0.25: two instances stay within 1.5 times the limit, four within 2.</value>
    public double BatchedShare { get; set; } = 0.25;

    /// <summary>The sync mode of <paramref name="policy"/>: its entry in <see cref="PolicySyncModes"/>, else <see cref="SyncMode"/>.</summary>
    internal RedisSyncMode SyncModeOf(string policy) => PolicySyncModes.TryGetValue(policy, out RedisSyncMode mode) ? mode : SyncMode;

    /// <summary>Gets or sets what checks decide while Redis is unavailable.</summary>
    /// <value>The default value is <see cref="RedisOutagePolicy.LocalFallback"/>.</value>
    public RedisOutagePolicy OutagePolicy { get; set; } = RedisOutagePolicy.LocalFallback;

    /// <summary>
    /// Gets or sets the share of each policy's permit limit one instance grants on its own under
    /// <see cref="RedisOutagePolicy.LocalFallback"/> (1/N for N instances keeps the total near the shared limit);
    /// at least one permit.
    /// </summary>
    /// <value>The default value is 1.0: each instance grants the whole limit.</value>
    public double LocalFallbackShare { get; set; } = 1.0;

    /// <summary>Gets or sets the longest a check waits for Redis before the outage policy decides it.</summary>
    /// <value>The default value is 250 ms.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Gets or sets how many failed or timed-out round trips in a row open the circuit breaker.</summary>
    /// <value>The default value is 3.</value>
    public int BreakerFailureThreshold { get; set; } = 3;

    /// <summary>Gets or sets how often an open breaker probes Redis (a PING in the background; checks never wait on it).</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how often each instance re-reads the bans of its local table from Redis, which corrects a ban
    /// change whose pub/sub message it missed (messages themselves arrive within milliseconds).
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan BanSyncInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long Redis keeps what a policy keeps "forever": a blacklisting (from when it was made),
    /// and block counts and carry-over of a policy whose <see cref="FloodgatePolicy.MaxWindowDuration"/> is Forever.
    /// Every key has a TTL: nothing is immortal.
    /// </summary>
    /// <value>The default value is 365 days.</value>
    public TimeSpan ForeverRetention { get; set; } = TimeSpan.FromDays(365);

    /// <summary>Gets or sets the capacity of each policy's local table (known bans, and the fallback engine).</summary>
    /// <value>The default value is 65,536 clients.</value>
    public int LocalCapacity { get; set; } = 1 << 16;

    /// <summary>Gets or sets the IPv6 prefix length that makes one client key.</summary>
    /// <value>The default value is 64.</value>
    public int Ipv6PrefixLength { get; set; } = IpKey.DefaultIpv6PrefixLength;

    /// <summary>Gets or sets the clock of the local parts (local table, breaker probes). Decisions use the Redis server's clock.</summary>
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger for breaker changes, fallbacks and script reloads.</summary>
    /// <value>The default value is <see langword="null"/>: no logs.</value>
    public ILogger? Logger { get; set; }

    /// <summary>Gets or sets the meter factory for the <c>Floodgate</c> meter's Redis instruments.</summary>
    /// <value>The default value is <see langword="null"/>: a meter of its own.</value>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>A test hook: the script's clock in ms instead of the server's TIME. Never set outside tests.</summary>
    internal Func<long>? ScriptClock { get; set; }

    /// <summary>A test hook: false sends every check to Redis, so a test sees the script's own decisions.</summary>
    internal bool LocalBanTable { get; set; } = true;

    /// <summary>Gets or sets whether the limiter follows operator changes (pub/sub, ban and list sync); off for outbound budgets, which have no operators and whose local keys are not their Redis keys.</summary>
    internal bool OperatorSync { get; set; } = true;

    /// <summary>Returns every invalid setting, each naming the setting and the value; empty when all are valid.</summary>
    /// <returns>The errors.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Fail(string setting, object? value, string rule) =>
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"FloodgateRedisOptions.{setting} {rule}; got {value ?? "null"}."));

        if (ConnectionMultiplexer is null)
        {
            if (string.IsNullOrWhiteSpace(Configuration))
            {
                Fail(nameof(Configuration), Configuration is null ? null : $"'{Configuration}'", "must name the Redis server(s), e.g. \"localhost:6379\", unless ConnectionMultiplexer is set");
            }
            else
            {
                try
                {
                    _ = ConfigurationOptions.Parse(Configuration);
                }
                catch (ArgumentException e)
                {
                    Fail(nameof(Configuration), $"'{Configuration}'", $"must be a StackExchange.Redis configuration string ({e.Message})");
                }
            }
        }

        if (string.IsNullOrEmpty(KeyPrefix) || KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            Fail(nameof(KeyPrefix), KeyPrefix is null ? null : $"'{KeyPrefix}'", "must be non-empty and contain no braces (they mark the hash tag)");
        }

        if (!Enum.IsDefined(OutagePolicy))
        {
            Fail(nameof(OutagePolicy), OutagePolicy, "must be FailOpen, FailClosed or LocalFallback");
        }

        if (!Enum.IsDefined(SyncMode))
        {
            Fail(nameof(SyncMode), SyncMode, "must be Exact or Batched");
        }

        foreach ((string policy, RedisSyncMode mode) in PolicySyncModes)
        {
            if (!Enum.IsDefined(mode))
            {
                Fail($"{nameof(PolicySyncModes)}[{policy}]", mode, "must be Exact or Batched");
            }
        }

        if (!double.IsFinite(BatchedShare) || BatchedShare <= 0 || BatchedShare > 1)
        {
            Fail(nameof(BatchedShare), BatchedShare, "must be greater than 0 and at most 1");
        }

        if (!double.IsFinite(LocalFallbackShare) || LocalFallbackShare <= 0 || LocalFallbackShare > 1)
        {
            Fail(nameof(LocalFallbackShare), LocalFallbackShare, "must be greater than 0 and at most 1");
        }

        CheckRange(nameof(SyncInterval), SyncInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(10));
        CheckRange(nameof(Timeout), Timeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(30));
        CheckRange(nameof(ProbeInterval), ProbeInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        CheckRange(nameof(BanSyncInterval), BanSyncInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        CheckRange(nameof(ForeverRetention), ForeverRetention, TimeSpan.FromDays(1), FloodgatePolicy.MaxFiniteDuration);

        if (BreakerFailureThreshold is < 1 or > 1000)
        {
            Fail(nameof(BreakerFailureThreshold), BreakerFailureThreshold, "must be between 1 and 1000");
        }

        if (LocalCapacity is < 1 or > FloodgateLimiterOptions.MaxCapacity)
        {
            Fail(nameof(LocalCapacity), LocalCapacity, $"must be between 1 and {FloodgateLimiterOptions.MaxCapacity}");
        }

        if (Ipv6PrefixLength is < IpKey.MinIpv6PrefixLength or > IpKey.MaxIpv6PrefixLength)
        {
            Fail(nameof(Ipv6PrefixLength), Ipv6PrefixLength, $"must be between {IpKey.MinIpv6PrefixLength} and {IpKey.MaxIpv6PrefixLength}");
        }

        if (TimeProvider is null)
        {
            Fail(nameof(TimeProvider), null, "must not be null");
        }

        return errors;

        void CheckRange(string setting, TimeSpan value, TimeSpan min, TimeSpan max)
        {
            if (value < min || value > max)
            {
                Fail(setting, value.ToString("c", CultureInfo.InvariantCulture), $"must be between {min.ToString("c", CultureInfo.InvariantCulture)} and {max.ToString("c", CultureInfo.InvariantCulture)}");
            }
        }
    }

    /// <summary>A copy, so that a limiter is not changed by later changes to the options it was built with.</summary>
    internal FloodgateRedisOptions Clone()
    {
        var clone = (FloodgateRedisOptions)MemberwiseClone();
        clone._policySyncModes = new Dictionary<string, RedisSyncMode>(PolicySyncModes, StringComparer.OrdinalIgnoreCase);
        return clone;
    }
}
