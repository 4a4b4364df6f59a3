using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Floodgate;

/// <summary>How a <see cref="FloodgateLimiter"/> is built: its table size, clock, client grouping and metrics.</summary>
public sealed class FloodgateLimiterOptions
{
    /// <summary>The default number of client slots (262,144: 16 MiB).</summary>
    public const int DefaultCapacity = 1 << 18;

    /// <summary>The largest accepted <see cref="Capacity"/> (67,108,864 slots: 4 GiB).</summary>
    public const int MaxCapacity = 1 << 26;

    /// <summary>
    /// Gets or sets how many clients the limiter tracks at once. Rounded up to a power of two, at least 16.
    /// Memory is fixed at construction: 64 bytes per slot, whatever the number of distinct clients.
    /// <value>The default value is <see cref="DefaultCapacity"/>.</value>
    /// </summary>
    public int Capacity { get; set; } = DefaultCapacity;

    /// <summary>
    /// Gets or sets the clock. Elapsed time comes from its monotonic timestamps; absolute times (block expiry)
    /// from its UTC clock.
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Gets or sets the prefix length IPv6 clients are grouped by (48 to 128).
    /// <value>The default value is 64.</value>
    /// </summary>
    public int Ipv6PrefixLength { get; set; } = IpKey.DefaultIpv6PrefixLength;

    /// <summary>
    /// Gets or sets the network an IPv4 client belongs to for <see cref="FloodgatePolicy.MaxClientsPerPrefix"/> (8 to 32).
    /// <value>The default value is 24.</value>
    /// </summary>
    public int Ipv4NetworkPrefixLength { get; set; } = 24;

    /// <summary>
    /// Gets or sets the network an IPv6 client belongs to for <see cref="FloodgatePolicy.MaxClientsPerPrefix"/> (16 to
    /// <see cref="Ipv6PrefixLength"/>).
    /// <value>The default value is 48, a site's usual allocation.</value>
    /// </summary>
    public int Ipv6NetworkPrefixLength { get; set; } = 48;

    /// <summary>
    /// Gets or sets the limiter's name, reported as the <c>floodgate.limiter</c> tag of its metrics.
    /// <value>The default value is <c>default</c>.</value>
    /// </summary>
    public string Name { get; set; } = "default";

    /// <summary>
    /// Gets or sets the factory that creates the <c>Floodgate</c> meter (dependency injection passes its own).
    /// <value>The default value is <see langword="null"/>: the limiter creates and disposes its own meter.</value>
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>
    /// Gets or sets the directory where the limiter keeps its state across restarts (FASTER KV checkpoints): blocks,
    /// block counts, the blacklist, windows and the runtime allow/deny lists. The limiter recovers the newest
    /// usable checkpoint from it at construction, checkpoints every <see cref="CheckpointInterval"/>, and once more
    /// when disposed: a crash loses at most one checkpoint interval. One limiter per directory.
    /// <value>The default value is <see langword="null"/>: no persistence.</value>
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>
    /// Gets or sets how often the state is checkpointed to <see cref="DataDirectory"/> (at least 100 ms).
    /// <value>The default value is 30 seconds.</value>
    /// </summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets whether bans (blocks, punishments, blacklistings and their lifts) are also written to a journal in
    /// <see cref="DataDirectory"/> as they happen, committed in the background within about a quarter of a second, so a
    /// crash loses no ban older than that; windows and counters still come back from the last checkpoint only.
    /// <value>The default value is <see langword="true"/> (with a <see cref="DataDirectory"/>).</value>
    /// </summary>
    public bool JournalBans { get; set; } = true;

    /// <summary>
    /// Gets or sets the logger for persistence events (recovery, checkpoint failures).
    /// <value>The default value is <see langword="null"/>: no logging.</value>
    /// </summary>
    public ILogger? Logger { get; set; }

    internal ILogger LoggerOrNull => Logger ?? NullLogger.Instance;

    /// <summary>
    /// Gets or sets how long a checkpoint's disk writes, or a ban journal commit, may take before they count as failed
    /// (logged, counted, reported by health). Tests shorten it; an app has no reason to.
    /// <value>The default value is 2 minutes.</value>
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public TimeSpan CheckpointTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Gets or sets whether a client seen for the first time waits (homeless, limited by its own count) until it has
    /// been counted more often than the least active resident before it takes that resident's slot. The outbound
    /// limiter, whose keys are the app's own destinations and no attacker's, turns it off: a new host then takes the
    /// least active evictable slot at once, and counts are neither carried to the homeless sketch nor brought back
    /// from it (the sketch then serves only clients that find every candidate slot blocked).
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public bool ResidentsFirst { get; set; } = true;

    /// <summary>
    /// Gets or sets a coarse timestamp source to read instead of the provider on the check path (tests use it to
    /// lag the clock on purpose). <see langword="null"/>: for <see cref="TimeProvider.System"/>, the one
    /// <see cref="ClockSource"/> picks; the provider itself for other providers.
    /// </summary>
    internal Internal.CoarseTimestamp? CoarseClock { get; set; }

    /// <summary>
    /// Gets or sets a tick count (milliseconds, as <see cref="Environment.TickCount64"/> counts them on the provider's
    /// clock) for the check path to read through the kernel clock's arithmetic instead of the kernel's (tests: the
    /// provider's timestamps must be nanoseconds, as <see cref="System.Diagnostics.Stopwatch"/>'s are on Linux).
    /// </summary>
    internal Func<long>? KernelTicks { get; set; }

    /// <summary>Gets or sets what checks read for "now" with <see cref="TimeProvider.System"/> (benchmarks and tests pick one).</summary>
    internal Internal.ClockSource ClockSource { get; set; }

    /// <summary>Returns every problem with these options, each naming the setting and its value; empty when valid.</summary>
    /// <returns>The error messages.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Capacity <= 0 || Capacity > MaxCapacity)
        {
            errors.Add($"FloodgateLimiterOptions.Capacity must be between 1 and {MaxCapacity}; got {Capacity}.");
        }

        if (Ipv6PrefixLength is < IpKey.MinIpv6PrefixLength or > IpKey.MaxIpv6PrefixLength)
        {
            errors.Add($"FloodgateLimiterOptions.Ipv6PrefixLength must be between {IpKey.MinIpv6PrefixLength} and {IpKey.MaxIpv6PrefixLength}; got {Ipv6PrefixLength}.");
        }

        if (Ipv4NetworkPrefixLength is < 8 or > 32)
        {
            errors.Add($"FloodgateLimiterOptions.Ipv4NetworkPrefixLength must be between 8 and 32; got {Ipv4NetworkPrefixLength}.");
        }

        if (Ipv6NetworkPrefixLength < 16 || Ipv6NetworkPrefixLength > Math.Clamp(Ipv6PrefixLength, IpKey.MinIpv6PrefixLength, IpKey.MaxIpv6PrefixLength))
        {
            errors.Add($"FloodgateLimiterOptions.Ipv6NetworkPrefixLength must be between 16 and Ipv6PrefixLength ({Ipv6PrefixLength}); got {Ipv6NetworkPrefixLength}.");
        }

        if (TimeProvider is null)
        {
            errors.Add("FloodgateLimiterOptions.TimeProvider must not be null; got null.");
        }

        if (DataDirectory is not null && string.IsNullOrWhiteSpace(DataDirectory))
        {
            errors.Add($"FloodgateLimiterOptions.DataDirectory must be a path, or null for no persistence; got '{DataDirectory}'.");
        }

        if (CheckpointInterval < TimeSpan.FromMilliseconds(100) || CheckpointInterval > TimeSpan.FromDays(1))
        {
            errors.Add($"FloodgateLimiterOptions.CheckpointInterval must be between 100 ms and 1 day; got {CheckpointInterval}.");
        }

        if (CheckpointTimeout <= TimeSpan.Zero)
        {
            errors.Add($"FloodgateLimiterOptions.CheckpointTimeout must be greater than 0; got {CheckpointTimeout}.");
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add($"FloodgateLimiterOptions.Name must not be empty; got '{Name}'.");
        }

        return errors;
    }
}
