namespace Floodgate;

/// <summary>What a limiter knows about one client, as returned by <see cref="FloodgateLimiter.Inspect(System.Net.IPAddress?)"/>.</summary>
public sealed record ClientState
{
    /// <summary>Gets the client's canonical key.</summary>
    public required IpKey Client { get; init; }

    /// <summary>Gets a value indicating whether the table holds state for the client.</summary>
    public bool IsTracked { get; init; }

    /// <summary>Gets a value indicating whether the client has a window running now.</summary>
    public bool IsWindowActive { get; init; }

    /// <summary>Gets the requests counted in the current window (0 when no window is running).</summary>
    public int Count { get; init; }

    /// <summary>Gets the permits left in the current window, carried-over permits included.</summary>
    public int Remaining { get; init; }

    /// <summary>Gets the time until the current window ends (<see cref="TimeSpan.Zero"/> when none is running).</summary>
    public TimeSpan ResetAfter { get; init; }

    /// <summary>Gets a value indicating whether the client is serving a block or a punishment.</summary>
    public bool IsBlocked { get; init; }

    /// <summary>Gets a value indicating whether the current (or last) block is a punishment for passing the block limit.</summary>
    public bool IsPunished { get; init; }

    /// <summary>Gets a value indicating whether the client is blacklisted.</summary>
    public bool IsBlacklisted { get; init; }

    /// <summary>Gets when the current block ends (UTC); <see langword="null"/> when not blocked or when blacklisted.</summary>
    public DateTimeOffset? BlockExpiresAt { get; init; }

    /// <summary>Gets the number of blocks on record (episodes, not requests), after forgetting and resets.</summary>
    public int BlockCount { get; init; }

    /// <summary>Gets a value indicating whether the client is on the runtime allowlist.</summary>
    public bool IsAllowlisted { get; init; }

    /// <summary>Gets a value indicating whether the client is on the runtime denylist.</summary>
    public bool IsDenylisted { get; init; }
}
