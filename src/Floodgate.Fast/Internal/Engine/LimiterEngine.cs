namespace Floodgate.Internal;

/// <summary>
/// What every engine shares, whatever its policy type: the table, the clock, the lists, the metrics and the
/// events. <see cref="LimiterEngine{TParams}"/> adds the policy-specialised check.
/// </summary>
internal abstract class LimiterEngine : IDisposable
{
    private readonly int _ipv4NetworkBits;
    private readonly int _ipv6NetworkBits;
    private readonly bool _grouping;       // the policy counts clients by a shorter prefix than their keys have
    private readonly ulong _ipv4GroupMask;  // over the key's low word: the mapped-IPv4 tag and the kept address bits
    private readonly int _ipv6GroupBits;
    private bool _listsInUse;
    private long _changes;

    protected LimiterEngine(FloodgatePolicy policy, FloodgateLimiterOptions options)
    {
        Policy = policy;
        Table = new EntryTable(options.Capacity);
        Homeless = new WindowSketch(2 * Table.Capacity);
        Networks = new WindowSketch(Table.Capacity);
        _ipv4NetworkBits = 96 + options.Ipv4NetworkPrefixLength;
        _ipv6NetworkBits = options.Ipv6NetworkPrefixLength;

        // Keys are made at the finer of the limiter's and the policy's IPv6 prefix (lists match those); the policy's
        // prefixes then group them for counting.
        KeyIpv6PrefixLength = Math.Max(options.Ipv6PrefixLength, policy.Ipv6PrefixLength ?? 0);
        int ipv4Bits = policy.Ipv4PrefixLength ?? 32;
        _ipv4GroupMask = 0xFFFF_FFFF_0000_0000UL | (uint.MaxValue << (32 - ipv4Bits));
        _ipv6GroupBits = policy.Ipv6PrefixLength ?? options.Ipv6PrefixLength;
        _grouping = ipv4Bits < 32 || _ipv6GroupBits < KeyIpv6PrefixLength;
        ResidentsFirst = options.ResidentsFirst;
        Clock = new MonotonicClock(options.TimeProvider, options.CoarseClock, options.ClockSource, PolicyMath.ShortestDuration(policy), options.KernelTicks);
        Allowlist = new AccessList(KeyIpv6PrefixLength);
        Denylist = new AccessList(KeyIpv6PrefixLength);
        Metrics = new FloodgateMetrics(options.Name, Table.Capacity, options.MeterFactory, policy.Mode == FloodgatePolicyMode.Shadow);
        BlockLengths = PolicyMath.BlockLengths(policy);
        Allowlist.Changed += UpdateListsInUse;
        Denylist.Changed += UpdateListsInUse;
    }

    /// <summary>
    /// An engine for a changed policy over <paramref name="previous"/>'s state: the same table, sketches, lists, clock,
    /// metrics and journal, so every client keeps its count, block and blacklisting, and the new numbers apply to them
    /// from the next check. The caller keeps the key layout (algorithm, prefix lengths) the same. The previous engine
    /// stays usable for checks already running on it and is never disposed (it owns nothing the new one does not).
    /// </summary>
    protected LimiterEngine(LimiterEngine previous, FloodgatePolicy policy)
    {
        Policy = policy;
        Table = previous.Table;
        Homeless = previous.Homeless;
        Networks = previous.Networks;
        _ipv4NetworkBits = previous._ipv4NetworkBits;
        _ipv6NetworkBits = previous._ipv6NetworkBits;
        KeyIpv6PrefixLength = previous.KeyIpv6PrefixLength;
        _ipv4GroupMask = previous._ipv4GroupMask;
        _ipv6GroupBits = previous._ipv6GroupBits;
        _grouping = previous._grouping;
        ResidentsFirst = previous.ResidentsFirst;
        Clock = previous.Clock;
        Allowlist = previous.Allowlist;
        Denylist = previous.Denylist;
        Metrics = previous.Metrics;
        Metrics.Shadow = policy.Mode == FloodgatePolicyMode.Shadow;
        BlockLengths = PolicyMath.BlockLengths(policy);
        Journal = previous.Journal;
        ClientStateChanged = previous.ClientStateChanged;
        _changes = Volatile.Read(ref previous._changes) + 1;   // a changed policy: the next checkpoint writes
        Allowlist.Changed -= previous.UpdateListsInUse;
        Denylist.Changed -= previous.UpdateListsInUse;
        Allowlist.Changed += UpdateListsInUse;
        Denylist.Changed += UpdateListsInUse;
        _listsInUse = Allowlist.Count + Denylist.Count > 0;
    }

    public event EventHandler<FloodgateEventArgs>? ClientStateChanged;

    /// <summary>
    /// Gets whether this table may hold a blacklisted client: false until the first blacklisting (escalation, operator,
    /// shared store, or recovery), then true for good. Lets app-wide checks skip the table until there is one to find.
    /// </summary>
    public bool MayHoldBlacklisted => Volatile.Read(ref Table.MayHoldBlacklisted) != 0;

    /// <summary>Called before any write that blacklists a client (so a reader that sees the flag clear finds none).</summary>
    protected void NoteBlacklisting()
    {
        if (Volatile.Read(ref Table.MayHoldBlacklisted) == 0)
        {
            Volatile.Write(ref Table.MayHoldBlacklisted, 1);
        }
    }

    /// <summary>Gets the IPv6 prefix length client keys are made with: the limiter's, or the policy's when finer.</summary>
    public int KeyIpv6PrefixLength { get; }

    /// <summary>
    /// The key a client is counted under by this policy: its group (an IPv4 /24, an IPv6 /48) when the policy sets a
    /// shorter prefix than the key's, else the key itself (and always for a key hash, which is no address). Lists are
    /// matched before, on the client's own key.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public IpKey Grouped(in IpKey key)
    {
        if (!_grouping || key.IsUnknown || key.IsKeyHash)
        {
            return key;
        }

        return key.IsIPv4 ? new IpKey(0, key.Low & _ipv4GroupMask) : key.Mask(_ipv6GroupBits);
    }

    public FloodgatePolicy Policy { get; }

    public EntryTable Table { get; }

    /// <summary>
    /// Gets the approximate counts of clients that have no slot (the table's candidates for them hold clients with
    /// more to lose), per window: each is limited by its own estimate, which can only over-count.
    /// </summary>
    public WindowSketch Homeless { get; }

    /// <summary>Gets the approximate count, per network prefix, of the clients that started a window in the current one.</summary>
    public WindowSketch Networks { get; }

    /// <summary>Gets the bytes of fixed memory the engine holds: the slots and the two sketches.</summary>
    public long MemoryBytes => Table.Bytes + Homeless.Bytes + Networks.Bytes;

    public MonotonicClock Clock { get; }

    public AccessList Allowlist { get; }

    public AccessList Denylist { get; }

    public FloodgateMetrics Metrics { get; }

    /// <summary>
    /// Gets a number that moves whenever the state a checkpoint holds may have changed: every decision (which the
    /// metrics count anyway, per thread, so the check path pays nothing more) and every operator change. Equal
    /// numbers at two checkpoints mean the second has nothing new to write.
    /// </summary>
    public long ChangeCount
    {
        get
        {
            long changes = Volatile.Read(ref _changes);
            for (var index = MetricIndex.Allowed; index <= MetricIndex.Denylisted; index++)
            {
                changes += Metrics.Read(index);
            }

            return changes;
        }
    }

    /// <summary>Gets the object passed as the sender of <see cref="ClientStateChanged"/>.</summary>
    public object? EventSender { get; set; }

    /// <summary>Gets a value indicating whether a new client waits, homeless, before it may displace a resident (see <see cref="FloodgateLimiterOptions.ResidentsFirst"/>).</summary>
    protected bool ResidentsFirst { get; }

    /// <summary>Gets a value indicating whether either list has entries: one read instead of two list lookups per check.</summary>
    protected bool ListsInUse => Volatile.Read(ref _listsInUse);

    /// <summary>The adaptive block lengths (index n-1 for the n-th block), see <see cref="PolicyMath.BlockLengths"/>.</summary>
    protected long[] BlockLengths { get; }

    /// <summary>Counts a request costing <paramref name="cost"/> permits (1 to <see cref="MaxCost"/>, checked by the caller).</summary>
    public abstract Decision Check(in IpKey key, int cost);

    /// <summary>A request of a client counted under <paramref name="key"/> (a key hash) whose lists are those of <paramref name="address"/>.</summary>
    public abstract Decision Check(in IpKey address, in IpKey key, int cost);

    /// <summary>Gets the most permits one request may cost: the most the shape can ever admit at once.</summary>
    public abstract int MaxCost { get; }

    /// <summary>What a check of <paramref name="cost"/> would decide now, changing nothing (see FloodgateLimiter.Peek).</summary>
    public abstract Decision Peek(in IpKey address, in IpKey key, int cost);

    public abstract ClientState Inspect(in IpKey key);

    public abstract IReadOnlyList<ClientState> GetBlockedClients();

    public abstract bool Unblock(in IpKey key);

    /// <summary>
    /// A pass earned by a solved challenge: lifts a block (never a blacklisting) and opens a fresh window with no
    /// cooldown, keeping the block count (repeat offenders still escalate). False for a blacklisted or unknown client.
    /// </summary>
    public abstract bool GrantPass(in IpKey key);

    public abstract bool Blacklist(in IpKey key);

    public abstract bool Unblacklist(in IpKey key);

    /// <summary>Blocks a key for at least <paramref name="durationMs"/> (a longer block already running stays); false when no slot could hold it.</summary>
    public abstract bool BlockFor(in IpKey key, long durationMs);

    /// <summary>
    /// Mirrors a ban decided elsewhere (a shared store): blocked for exactly <paramref name="durationMs"/> from now
    /// (shorter or longer than a block already held), blacklisted when it is negative, lifted when it is 0. Raises
    /// no event and counts no block: the store that decided it did. False when no slot could hold it.
    /// </summary>
    public abstract bool MirrorBan(in IpKey key, long durationMs);

    /// <summary>
    /// The denial of a client this table holds as blacklisted or blocked now, without counting the request and
    /// without extending a relative block: false for every other client. Allocation-free; reads one slot.
    /// </summary>
    public abstract bool TryGetBan(in IpKey key, out Decision decision);

    /// <summary>The allowlist's or denylist's decision for the key, as <see cref="Check(in IpKey, int)"/> makes it first; false when neither lists it.</summary>
    public abstract bool TryListDecision(in IpKey key, out Decision decision);

    /// <summary>Copies out every client whose state a decision depends on, with times as UTC ticks.</summary>
    public abstract void ExportClients(Persistence.IRecordSink sink, long nowMs, long utcNowTicks);

    /// <summary>Copies out one client's state as <see cref="ExportClients"/> would; false when the table holds nothing for it.</summary>
    public abstract bool TryExportClient(in IpKey key, long nowMs, long utcNowTicks, out Persistence.PersistedEntry entry);

    /// <summary>
    /// Gets or sets the ban journal (persistence with a data directory): told of every block, punishment, blacklisting
    /// and lift as it happens, without waiting (a slot in a preallocated queue).
    /// </summary>
    public Persistence.BanJournal? Journal { get; set; }

    /// <summary>The client's slot, claimed if it has none (see LimiterEngine.Slots); negative when none can be had now.</summary>
    public abstract int SlotOf(in IpKey key);

    /// <summary>A check of the client at <paramref name="slot"/> (from <see cref="SlotOf"/>): no lists, no grouping, no second lookup.</summary>
    public abstract Decision CheckSlot(int slot, in IpKey key, int cost);

    /// <summary>The client a live slot holds; false for a free or changing slot.</summary>
    public abstract bool TryGetKeyAt(int slot, out IpKey key);

    /// <summary>
    /// Sets a client's count to a shared store's, plus <paramref name="unsent"/> permits admitted here since (a batched
    /// exchange, see <c>FloodgateLimiter.CompleteSent</c>): windows from <paramref name="windowAgeMs"/>,
    /// <paramref name="count"/> and <paramref name="previous"/>; a token bucket from its debt, <paramref name="count"/>.
    /// Only a client this table tracks; its block state is kept.
    /// </summary>
    public abstract void SetShared(in IpKey key, long windowAgeMs, long count, long previous, int unsent);

    /// <summary>Loads one recovered client; false when no slot could hold it.</summary>
    public abstract bool Restore(in Persistence.PersistedKey key, in Persistence.PersistedEntry entry, long nowMs, long utcNowTicks);

    public void Dispose()
    {
        Metrics.Dispose();
    }

    /// <summary>
    /// Raises <see cref="ClientStateChanged"/>; a throwing handler is counted, never passed to the caller.
    /// <paramref name="durationMs"/> is how long the denial lasts, negative for none (blacklisted, lifted).
    /// </summary>
    protected void Raise(FloodgateEventKind kind, in IpKey key, int blockCount, long durationMs, long nowMs)
    {
        Journal?.Note(in key);
        EventHandler<FloodgateEventArgs>? handler = ClientStateChanged;
        if (handler is null)
        {
            return;
        }

        TimeSpan? duration = durationMs >= 0 ? TimeSpan.FromMilliseconds(durationMs) : null;
        DateTimeOffset? expiresAt = durationMs >= 0 ? Clock.ToUtc(nowMs + durationMs) : null;
        try
        {
            handler(EventSender, new FloodgateEventArgs(kind, key, blockCount, duration, expiresAt));
        }
#pragma warning disable CA1031 // The check path must not throw because of an application's handler; the failure is counted.
        catch (Exception)
#pragma warning restore CA1031
        {
            Metrics.Increment(MetricIndex.EventHandlerErrors);
        }
    }

    /// <summary>The keyed hash of the network prefix a client belongs to (an IPv4 /24, an IPv6 /48 by default).</summary>
    protected ulong NetworkHash(in IpKey key) => EntryTable.Hash(key.Mask(key.IsIPv4 ? _ipv4NetworkBits : _ipv6NetworkBits));

    /// <summary>Records an operator change for <see cref="ChangeCount"/>.</summary>
    protected void NoteChange() => Interlocked.Increment(ref _changes);   // operators only: never on the check path

    private void UpdateListsInUse()
    {
        NoteChange();
        Volatile.Write(ref _listsInUse, Allowlist.Count + Denylist.Count > 0);
    }
}
