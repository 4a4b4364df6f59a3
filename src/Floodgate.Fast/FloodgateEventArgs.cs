namespace Floodgate;

/// <summary>
/// A change in a client's block state, raised by <see cref="FloodgateLimiter.ClientStateChanged"/> after the
/// change took effect (outside any retry loop), e.g. to feed a firewall.
/// </summary>
public sealed class FloodgateEventArgs : EventArgs
{
    /// <summary>Creates the arguments (for packages built on the engine that raise the event for a shared store).</summary>
    /// <param name="kind">What happened.</param>
    /// <param name="client">The client's key.</param>
    /// <param name="blockCount">The block count after the change.</param>
    /// <param name="duration">How long the client is denied; <see langword="null"/> when blacklisted or lifted.</param>
    /// <param name="expiresAt">When the denial ends; <see langword="null"/> when blacklisted or lifted.</param>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public FloodgateEventArgs(FloodgateEventKind kind, IpKey client, int blockCount, TimeSpan? duration, DateTimeOffset? expiresAt)
    {
        Kind = kind;
        Client = client;
        BlockCount = blockCount;
        Duration = duration;
        ExpiresAt = expiresAt;
    }

    /// <summary>Gets what happened.</summary>
    public FloodgateEventKind Kind { get; }

    /// <summary>Gets the client's key (<see cref="IpKey.ToIPAddress"/> gives the address or IPv6 prefix).</summary>
    public IpKey Client { get; }

    /// <summary>Gets the client's block count after the change.</summary>
    public int BlockCount { get; }

    /// <summary>Gets how long the client is denied; <see langword="null"/> when blacklisted or lifted.</summary>
    public TimeSpan? Duration { get; }

    /// <summary>Gets when the denial ends (UTC); <see langword="null"/> when blacklisted or lifted.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Kind} {Client} (blocks: {BlockCount}{(ExpiresAt is { } at ? $", until {at:O}" : string.Empty)})";
}
