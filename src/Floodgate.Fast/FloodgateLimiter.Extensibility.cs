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

    // ---- Batched counting (Floodgate.Redis, SyncMode Batched) ----
    // Per slot, one word: the permits admitted here and not yet sent (low 32 bits), and those sent in the exchange
    // under way (high 32 bits). Made on first use, as large as the table.
    private long[]? _ledger;

    private long[] Ledger => PerSlot(ref _ledger);

    /// <summary>A word per slot of the table, made on first use (racing makers agree on one).</summary>
    private long[] PerSlot(ref long[]? words) =>
        Volatile.Read(ref words) ?? Interlocked.CompareExchange(ref words, new long[_engine.Table.Capacity], null) ?? Volatile.Read(ref words)!;

    /// <summary>
    /// Counts a request here for a shared store that exchanges counts in batches: when this table's count admits it and
    /// the client's permits admitted here since the last acknowledged exchange stay within <paramref name="budget"/>,
    /// the request is counted and the permits are recorded for the next exchange (<see cref="TakeUnsent"/>).
    /// Lists, bans and grouping are the caller's: the key is counted as given. Allocation-free and lock-free.
    /// </summary>
    /// <param name="key">The client's key, as the store counts it (its group, see <see cref="GroupOf"/>).</param>
    /// <param name="cost">The request's permits.</param>
    /// <param name="budget">The most permits this instance admits for the client between two acknowledged exchanges.</param>
    /// <param name="refusals">Whether a refusal is this table's to make; when false, only while the store's own refusal holds (<see cref="HoldRefusal"/>).</param>
    /// <param name="decision">This table's decision, when it made one: allowed, or refused because the count it knows is spent.</param>
    /// <returns>False when the store must decide: the budget is spent, the client has no slot here, or a refusal is the store's.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool TryCheckBatched(in IpKey key, int cost, int budget, bool refusals, out Decision decision)
    {
        int slot = _engine.SlotOf(in key);
        if (slot < 0)
        {
            decision = default;
            return false;
        }

        ref long entry = ref Ledger[slot];
        long seen = Volatile.Read(ref entry);
        if ((long)(int)seen + (int)(seen >>> 32) + cost > budget)
        {
            decision = default;
            return false;
        }

        // Requests racing here may each pass the budget's test: it is exceeded by at most the requests in flight at once.
        decision = _engine.CheckSlot(slot, in key, cost);
        if (decision.IsAllowed)
        {
            Interlocked.Add(ref entry, cost);
            return true;
        }

        if (refusals)
        {
            return true;
        }

        // The store refused this client until a moment that has not come: its count only grows until then, so it refuses again.
        long[]? held = Volatile.Read(ref _refusals);
        long until = held is null ? 0 : Volatile.Read(ref held[slot]);
        long now = _engine.Clock.NowMs();
        if (until > now && decision.Reason == DecisionReason.RateLimited)
        {
            long retry = until - now;
            decision = Decision.Denied(DecisionReason.RateLimited, decision.Limit, retry, Math.Max(retry, (long)decision.ResetAfter.TotalMilliseconds));
            return true;
        }

        return false;
    }

    // Per slot: until when (engine ms) the store's own refusal of the client holds; made on first use.
    private long[]? _refusals;

    /// <summary>
    /// Holds a store's refusal (not a ban) of a client for <paramref name="durationMs"/>: meanwhile <see cref="TryCheckBatched"/>
    /// refuses the client here when this table's count is spent too, instead of asking the store again. 0 lifts it.
    /// </summary>
    /// <param name="key">The client's key, as the store counts it.</param>
    /// <param name="durationMs">How long the store said the refusal lasts (its Retry-After).</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void HoldRefusal(in IpKey key, long durationMs)
    {
        int slot = _engine.SlotOf(in key);
        if (slot < 0)
        {
            return;
        }

        Volatile.Write(ref PerSlot(ref _refusals)[slot], durationMs <= 0 ? 0 : _engine.Clock.StampMs() + durationMs);
    }

    /// <summary>
    /// Starts an exchange: moves each client's permits admitted since the last one into flight and lists them. A
    /// client whose previous exchange is still in flight waits for the next.
    /// </summary>
    /// <param name="batch">Receives the slot, the client and its permits; cleared first.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void TakeUnsent(List<(int Slot, IpKey Key, int Permits)> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Clear();
        long[]? ledger = Volatile.Read(ref _ledger);
        if (ledger is null)
        {
            return;
        }

        for (int slot = 0; slot < ledger.Length; slot++)
        {
            long seen = Volatile.Read(ref ledger[slot]);
            int unsent = (int)seen;
            if (unsent == 0 || (seen >>> 32) != 0 || !_engine.TryGetKeyAt(slot, out IpKey key))
            {
                continue;
            }

            // Only this method and CompleteSent change the high half; checks only add to the low half.
            Interlocked.Add(ref ledger[slot], ((long)unsent << 32) - unsent);
            batch.Add((slot, key, unsent));
        }
    }

    /// <summary>Gets whether any client has permits admitted here that no exchange has taken yet, or an exchange in flight.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool HasUnsent
    {
        get
        {
            long[]? ledger = Volatile.Read(ref _ledger);
            return ledger is not null && Array.Exists(ledger, static entry => entry != 0);
        }
    }

    /// <summary>
    /// Ends one client's part of an exchange. Delivered: its count here becomes the shared one plus what was admitted
    /// here since (windows: <paramref name="windowAgeMs"/>, <paramref name="count"/> and <paramref name="previous"/>, the
    /// sliding window's previous count; token bucket: <paramref name="count"/> is the debt in 1/PermitLimit ms), and its
    /// budget is free again. Not delivered: its permits wait for the next exchange.
    /// </summary>
    /// <param name="slot">The slot <see cref="TakeUnsent"/> listed.</param>
    /// <param name="key">The client <see cref="TakeUnsent"/> listed.</param>
    /// <param name="delivered">Whether the store counted the permits.</param>
    /// <param name="windowAgeMs">Windows: how long ago the shared window started.</param>
    /// <param name="count">The shared count (windows), or debt (token bucket).</param>
    /// <param name="previous">The sliding window's previous count; 0 otherwise.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void CompleteSent(int slot, in IpKey key, bool delivered, long windowAgeMs, long count, long previous)
    {
        long[] ledger = Ledger;
        if ((uint)slot >= (uint)ledger.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "Not a slot of this table.");
        }

        long seen = Volatile.Read(ref ledger[slot]);
        int inFlight = (int)(seen >>> 32);
        if (delivered)
        {
            _engine.SetShared(in key, windowAgeMs, count, previous, (int)seen);
            Interlocked.Add(ref ledger[slot], -((long)inFlight << 32));
        }
        else
        {
            Interlocked.Add(ref ledger[slot], -((long)inFlight << 32) + inFlight);
        }
    }
}
