using System.ComponentModel;

namespace Floodgate;

/// <summary>
/// The engine's extension surface: what the packages built on it (Floodgate.Redis, Floodgate.Http,
/// Floodgate.AspNetCore) need beyond checks and operator operations. Public and tracked like the rest of the API, but
/// hidden from IntelliSense: an app has no reason to call these. See docs/how-it-works.md ("Extension surface").
/// </summary>
public sealed partial class FloodgateLimiter
{
    /// <summary>Blocks a key for at least <paramref name="duration"/> (outbound backoff after a 429 or 503 from upstream).</summary>
    /// <param name="key">The key, e.g. a destination host's.</param>
    /// <param name="duration">How long; rounded up to the millisecond.</param>
    /// <returns><see langword="false"/> when no slot could hold the block.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool BlockFor(in IpKey key, TimeSpan duration) => _engine.BlockFor(in key, (long)Math.Ceiling(duration.TotalMilliseconds));

    /// <summary>
    /// Holds a ban decided by a shared store in this table, so that later requests of the client are refused here
    /// without asking the store; a ban already held for longer is kept.
    /// </summary>
    /// <param name="key">The client's key.</param>
    /// <param name="durationMs">The ban's remaining length in milliseconds, or -1 for a blacklisting.</param>
    /// <returns><see langword="false"/> when no slot could hold the ban.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool MirrorBan(in IpKey key, long durationMs) => _engine.MirrorBan(in key, durationMs);

    /// <summary>Gets the denial of a client this table holds as blocked or blacklisted, without counting a request.</summary>
    /// <param name="key">The client's key.</param>
    /// <param name="decision">The denial, when there is one.</param>
    /// <returns><see langword="true"/> when the client is banned here.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool TryGetBan(in IpKey key, out Decision decision) => _engine.TryGetBan(in key, out decision);

    /// <summary>Gets the allowlist's or denylist's decision for a client, without counting a request.</summary>
    /// <param name="key">The client's key.</param>
    /// <param name="decision">The list's decision, when the client is on one.</param>
    /// <returns><see langword="true"/> when a list decides.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool TryListDecision(in IpKey key, out Decision decision) => _engine.TryListDecision(in key, out decision);

    /// <summary>
    /// The key this limiter counts a client under: its group when the policy sets <see cref="FloodgatePolicy.Ipv4PrefixLength"/>
    /// or a shorter <see cref="FloodgatePolicy.Ipv6PrefixLength"/>, else the key itself (a shared store keys its state by it).
    /// </summary>
    /// <param name="key">The client's key (<see cref="GetKey"/>).</param>
    /// <returns>The key the client is counted under.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public IpKey GroupOf(in IpKey key) => _engine.Grouped(in key);

    /// <summary>
    /// Grants a pass (the proof-of-work challenge): lifts a block, not a blacklisting, and opens a fresh window,
    /// keeping the block count so that a repeat offender still escalates.
    /// </summary>
    /// <param name="key">The client's key.</param>
    /// <returns><see langword="false"/> when the client is blacklisted or unknown.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool GrantPass(in IpKey key) => _engine.GrantPass(in key);

    /// <summary>
    /// Gets whether this table may hold a blacklisted client: false until its first blacklisting (escalation, an operator,
    /// a shared store, or recovery), then true for good. The ASP.NET Core adapter skips its app-wide blacklist check of a
    /// table until then.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool MayHoldBlacklisted
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _engine.MayHoldBlacklisted;
    }

    /// <summary>
    /// Gets how many checks found no slot for their client and were decided by the shared overflow entry or the sketch
    /// (the <c>floodgate.overflow</c> metric): a count that rises means the table is too small for its clients.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public long OverflowCount => _engine.Metrics.Read(Internal.MetricIndex.Overflow);

    /// <summary>Gets why the ban journal's last write failed; <see langword="null"/> while bans are journaled (or there is no journal).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public string? JournalError => _checkpointer?.Journal?.LastWriteError;
}
