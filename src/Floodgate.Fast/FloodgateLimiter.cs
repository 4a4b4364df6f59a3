using System.Net;
using System.Runtime.CompilerServices;
using Floodgate.Internal;
using Floodgate.Persistence;

namespace Floodgate;

/// <summary>
/// Limits requests per client IP address under one <see cref="FloodgatePolicy"/>: a fixed-capacity, sharded,
/// lock-free table of clients, checked in a few nanoseconds without allocating.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Check(IPAddress?)"/> never throws and never blocks; it is safe to call from any number of threads.
/// The operator methods (<see cref="Inspect(IPAddress?)"/>, <see cref="Blacklist(IPAddress?)"/>, …) may be called
/// concurrently with checks.
/// </para>
/// <para>
/// Memory is fixed at construction (64 bytes per slot). When a new client needs a slot and none is free,
/// state that can be forgotten goes first, then the least recently seen client that is neither blocked nor
/// blacklisted; if every candidate is blocked, the new client is limited through one shared, strict overflow
/// entry (counted by the <c>floodgate.overflow</c> metric).
/// </para>
/// </remarks>
public sealed partial class FloodgateLimiter : IDisposable
{
    private LimiterEngine _engine;   // replaced, over the same state, by Reconfigure
    private readonly int _ipv6PrefixLength;
    private Checkpointer? _checkpointer;

    /// <summary>Creates a limiter for a policy configured at run time.</summary>
    /// <param name="policy">The policy; copied, so later changes to it have no effect.</param>
    /// <param name="options">The table size, clock and other options; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The policy or the options are invalid; the message names every bad setting and its value.</exception>
    /// <exception cref="InvalidOperationException">
    /// <see cref="FloodgateLimiterOptions.DataDirectory"/> cannot be created or written, or another limiter uses it.
    /// </exception>
    public FloodgateLimiter(FloodgatePolicy policy, FloodgateLimiterOptions? options = null)
        : this(CreateEngine(policy, ref options), options!)
    {
    }

    private FloodgateLimiter(LimiterEngine engine, FloodgateLimiterOptions options)
    {
        _engine = engine;
        _ipv6PrefixLength = engine.KeyIpv6PrefixLength;
        engine.EventSender = this;
        if (options.DataDirectory is { } directory)
        {
            try
            {
                // Recovery happens here, before the limiter is handed out: the first check sees the recovered state.
                _checkpointer = Checkpointer.Open(engine, directory, options.CheckpointInterval, options.CheckpointTimeout, options.LoggerOrNull, options.JournalBans);
            }
            catch
            {
                engine.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Raised when a client is blocked, punished, blacklisted, unblocked or unblacklisted, after the change took
    /// effect. Handlers run on the thread that caused the change (a request thread): keep them short. An
    /// exception from a handler is caught and counted (<c>floodgate.event_handler.errors</c>), never thrown to the request.
    /// </summary>
    public event EventHandler<FloodgateEventArgs>? ClientStateChanged
    {
        add => _engine.ClientStateChanged += value;
        remove => _engine.ClientStateChanged -= value;
    }

    /// <summary>Gets a copy of the policy this limiter enforces.</summary>
    public FloodgatePolicy Policy => _engine.Policy.Clone();

    /// <summary>Gets when the last checkpoint was written to the data directory; <see langword="null"/> before the first, or without persistence.</summary>
    public DateTimeOffset? LastCheckpointAt => _checkpointer?.LastCheckpointAt;

    /// <summary>Gets why the last checkpoint failed (it is also logged and counted); <see langword="null"/> when it succeeded.</summary>
    public string? LastCheckpointError => _checkpointer?.LastCheckpointError;

    /// <summary>Gets the number of client slots (the configured capacity rounded up to a power of two).</summary>
    public int Capacity => _engine.Table.Capacity;

    /// <summary>
    /// Gets how many checks were decided with <paramref name="reason"/> since the limiter was made (what the
    /// <c>floodgate.decisions</c> metric reports): for dashboards and tests. Summed over the per-thread counters; allocation-free.
    /// </summary>
    /// <param name="reason">The decision's reason.</param>
    /// <returns>The count.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reason"/> is not a defined reason.</exception>
    public long GetDecisionCount(DecisionReason reason)
    {
        if (reason > DecisionReason.Denylisted)
        {
            throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not a decision reason.");
        }

        // MetricIndex lists the decision counters in DecisionReason order.
        return _engine.Metrics.Read((Internal.MetricIndex)reason);
    }

    /// <summary>Gets the bytes of native memory the limiter holds, fixed at construction (112 per slot, plus its sketches).</summary>
    public long MemoryBytes => _engine.MemoryBytes;

    /// <summary>
    /// Gets the clock the check path reads for "now": <c>kernel</c> (the kernel's coarse clock), <c>ticker</c> (a value
    /// republished about every millisecond) or <c>precise</c> (the <see cref="FloodgateLimiterOptions.TimeProvider"/> on
    /// every check). Chosen at construction: by the <c>Floodgate.Clock</c> AppContext switch, or by the policy's shortest duration.
    /// </summary>
    public string Clock => _engine.Clock.Reading switch
    {
        Internal.ClockSource.Kernel => "kernel",
        Internal.ClockSource.Ticker => "ticker",
        _ => "precise",
    };

    /// <summary>Gets the runtime allowlist: listed clients are allowed without being counted.</summary>
    public AccessList Allowlist => _engine.Allowlist;

    /// <summary>Gets the runtime denylist: listed clients are denied with <see cref="DecisionReason.Denylisted"/>.</summary>
    public AccessList Denylist => _engine.Denylist;

    /// <summary>
    /// Creates a limiter for a compile-time policy. The check is compiled for <typeparamref name="TPolicy"/>, with
    /// its numbers as constants; its decisions are those of the equivalent <see cref="FloodgatePolicy"/>.
    /// </summary>
    /// <typeparam name="TPolicy">The policy type, usually emitted by the Floodgate source generator.</typeparam>
    /// <param name="options">The table size, clock and other options; <see langword="null"/> for the defaults.</param>
    /// <returns>The limiter.</returns>
    /// <exception cref="ArgumentException">The policy's numbers or the options are invalid.</exception>
    public static FloodgateLimiter Create<TPolicy>(FloodgateLimiterOptions? options = null)
        where TPolicy : struct, IFloodgatePolicyDefinition
    {
        FloodgatePolicy policy = StaticPolicyParameters<TPolicy>.ToPolicy();
        options ??= new FloodgateLimiterOptions();
        ThrowIfInvalid(policy, options, TPolicy.Name);
        return new FloodgateLimiter(new LimiterEngine<StaticPolicyParameters<TPolicy>>(default, policy, options), options) { IsPrecompiled = true };
    }

    /// <summary>Gets whether the check is compiled for a policy type (<see cref="Create{TPolicy}"/>) rather than reading a runtime policy.</summary>
    internal bool IsPrecompiled { get; private init; }

    /// <summary>
    /// Writes a checkpoint of the current state to <see cref="FloodgateLimiterOptions.DataDirectory"/> now (after
    /// one already running). Checks go on meanwhile. Completes at once when there is no data directory.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for a running checkpoint.</param>
    /// <returns>A task that completes when the checkpoint is durable.</returns>
    /// <exception cref="IOException">The checkpoint could not be written (also logged and counted).</exception>
    public Task CheckpointAsync(CancellationToken cancellationToken = default) =>
        _checkpointer?.CheckpointAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Returns the canonical key this limiter uses for an address.</summary>
    /// <param name="address">The client address, or <see langword="null"/> for the shared unknown key.</param>
    /// <returns>The key.</returns>
    public IpKey GetKey(IPAddress? address) => IpKey.CreateUnchecked(address, _ipv6PrefixLength);

    /// <summary>Counts a request of a client and decides whether it may proceed. Never throws, never allocates.</summary>
    /// <param name="address">
    /// The client address (in ASP.NET Core, <c>HttpContext.Connection.RemoteIpAddress</c>), or <see langword="null"/>
    /// when there is none: such requests share one "unknown" client, limited like any other.
    /// </param>
    /// <returns>The decision.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Decision Check(IPAddress? address) => _engine.Check(IpKey.CreateUnchecked(address, _ipv6PrefixLength), 1);

    /// <summary>Counts a request of a client given by its key. Never throws, never allocates.</summary>
    /// <param name="key">The client key, created with this limiter's IPv6 prefix length.</param>
    /// <returns>The decision.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Decision Check(in IpKey key) => _engine.Check(in key, 1);

    /// <summary>
    /// Counts a request that costs <paramref name="cost"/> permits (an export that counts as five searches). It is
    /// admitted only if all of them fit, and a refused request is not charged at all. Never allocates.
    /// </summary>
    /// <param name="address">The client address, or <see langword="null"/> for the unknown client.</param>
    /// <param name="cost">The permits the request costs: 1 to <see cref="MaxCost"/>.</param>
    /// <returns>The decision; its <see cref="Decision.Remaining"/> counts permits.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is below 1 or above <see cref="MaxCost"/>.</exception>
    public Decision Check(IPAddress? address, int cost) => Check(IpKey.CreateUnchecked(address, _ipv6PrefixLength), cost);

    /// <summary>Counts a request of a client given by its key that costs <paramref name="cost"/> permits; see <see cref="Check(IPAddress?, int)"/>.</summary>
    /// <param name="key">The client key, created with this limiter's IPv6 prefix length.</param>
    /// <param name="cost">The permits the request costs: 1 to <see cref="MaxCost"/>.</param>
    /// <returns>The decision.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is below 1 or above <see cref="MaxCost"/>.</exception>
    public Decision Check(in IpKey key, int cost)
    {
        if ((uint)(cost - 1) >= (uint)_engine.MaxCost)
        {
            ThrowCostOutOfRange(cost, _engine.MaxCost);
        }

        return _engine.Check(in key, cost);
    }

    /// <summary>
    /// Counts a request of a client known by a key that is not its address: an API key, a user, a tenant, hashed by a
    /// <see cref="FloodgateKeyHasher"/>. The allowlist and denylist still match <paramref name="address"/> (they hold
    /// addresses); everything else (the count, blocks, escalation, blacklisting) belongs to the key. Never allocates.
    /// </summary>
    /// <param name="address">The request's address, for the lists; <see langword="null"/> when there is none.</param>
    /// <param name="key">The client's key hash (<see cref="FloodgateKeyHasher.Hash(ReadOnlySpan{char})"/>); an address key works too.</param>
    /// <param name="cost">The permits the request costs: 1 to <see cref="MaxCost"/>.</param>
    /// <returns>The decision.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is below 1 or above <see cref="MaxCost"/>.</exception>
    public Decision CheckKey(IPAddress? address, in IpKey key, int cost = 1)
    {
        if ((uint)(cost - 1) >= (uint)_engine.MaxCost)
        {
            ThrowCostOutOfRange(cost, _engine.MaxCost);
        }

        return _engine.Check(IpKey.CreateUnchecked(address, _ipv6PrefixLength), in key, cost);
    }

    /// <summary>
    /// Tells what a check costing <paramref name="cost"/> would decide now, without counting the request or changing
    /// anything: for a policy that counts only some answers (<c>CountStatusCodes</c>), asked before the endpoint runs.
    /// Allowed carries the permits left now (not less this request); refused says why (the lists, a block, a
    /// blacklisting, or too few permits left). A cooldown is not considered. Never allocates.
    /// </summary>
    /// <param name="address">The client address, or <see langword="null"/> for the unknown client.</param>
    /// <param name="cost">The permits the request would cost.</param>
    /// <returns>The decision a check would make now.</returns>
    public Decision Peek(IPAddress? address, int cost = 1)
    {
        IpKey key = IpKey.CreateUnchecked(address, _ipv6PrefixLength);
        return _engine.Peek(in key, in key, cost);
    }

    /// <summary>As <see cref="Peek(IPAddress?, int)"/> for a client known by a key hash (see <see cref="CheckKey"/>).</summary>
    /// <param name="address">The request's address, for the lists.</param>
    /// <param name="key">The client's key hash.</param>
    /// <param name="cost">The permits the request would cost.</param>
    /// <returns>The decision a check would make now.</returns>
    public Decision PeekKey(IPAddress? address, in IpKey key, int cost = 1) =>
        _engine.Peek(IpKey.CreateUnchecked(address, _ipv6PrefixLength), in key, cost);

    /// <summary>
    /// Gets the most permits one request may cost: the policy's <see cref="FloodgatePolicy.PermitLimit"/>, or a token
    /// bucket's <see cref="FloodgatePolicy.Burst"/>. A costlier request could never be admitted.
    /// </summary>
    public int MaxCost => _engine.MaxCost;

    /// <summary>Describes what the limiter knows about a client, without counting a request.</summary>
    /// <param name="address">The client address, or <see langword="null"/> for the unknown client.</param>
    /// <returns>The client's state.</returns>
    public ClientState Inspect(IPAddress? address) => _engine.Inspect(GetKey(address));

    /// <summary>Describes what the limiter knows about a client, without counting a request.</summary>
    /// <param name="key">The client key.</param>
    /// <returns>The client's state.</returns>
    public ClientState Inspect(in IpKey key) => _engine.Inspect(in key);

    /// <summary>Lists the clients that are blocked or blacklisted now.</summary>
    /// <returns>A snapshot; it may miss a change made while it is taken.</returns>
    public IReadOnlyList<ClientState> GetBlockedClients() => _engine.GetBlockedClients();

    /// <summary>Lifts a client's block (not a blacklisting: see <see cref="Unblacklist(IPAddress?)"/>). Its next request starts a new window.</summary>
    /// <param name="address">The client address.</param>
    /// <returns><see langword="true"/> when a block was lifted.</returns>
    public bool Unblock(IPAddress? address) => _engine.Unblock(GetKey(address));

    /// <summary>Lifts a client's block.</summary>
    /// <param name="key">The client key.</param>
    /// <returns><see langword="true"/> when a block was lifted.</returns>
    public bool Unblock(in IpKey key) => _engine.Unblock(in key);

    /// <summary>Blacklists a client until <see cref="Unblacklist(IPAddress?)"/>: every request is denied with 403.</summary>
    /// <param name="address">The client address.</param>
    /// <returns><see langword="true"/> when newly blacklisted; <see langword="false"/> when it already was.</returns>
    /// <exception cref="InvalidOperationException">No slot can hold the client because every candidate is blocked; use the <see cref="Denylist"/> or a larger capacity.</exception>
    public bool Blacklist(IPAddress? address) => _engine.Blacklist(GetKey(address));

    /// <summary>Blacklists a client until it is unblacklisted.</summary>
    /// <param name="key">The client key.</param>
    /// <returns><see langword="true"/> when newly blacklisted.</returns>
    /// <exception cref="InvalidOperationException">No slot can hold the client.</exception>
    public bool Blacklist(in IpKey key) => _engine.Blacklist(in key);

    /// <summary>
    /// Removes a client from the blacklist. This counts as a served punishment: with
    /// <see cref="FloodgatePolicy.BlockExceedReset"/> its block count starts again at 0.
    /// </summary>
    /// <param name="address">The client address.</param>
    /// <returns><see langword="true"/> when it was blacklisted.</returns>
    public bool Unblacklist(IPAddress? address) => _engine.Unblacklist(GetKey(address));

    /// <summary>Removes a client from the blacklist.</summary>
    /// <param name="key">The client key.</param>
    /// <returns><see langword="true"/> when it was blacklisted.</returns>
    public bool Unblacklist(in IpKey key) => _engine.Unblacklist(in key);

    /// <summary>
    /// Exposes this limiter as a <see cref="System.Threading.RateLimiting.PartitionedRateLimiter{TResource}"/> partitioned by
    /// client address, for whatever takes one: ASP.NET Core's <c>AddRateLimiter(o =&gt; o.GlobalLimiter = ...)</c>,
    /// Polly's and Microsoft.Extensions.Http.Resilience's rate-limiter strategies, YARP. Each acquisition of one
    /// permit is one <see cref="Check(IPAddress?)"/>, so blocks, blacklists, lists and events work behind it; it never
    /// queues. A refused lease carries <c>MetadataName.RetryAfter</c> (not for blacklisted or denylisted clients) and
    /// <c>MetadataName.ReasonPhrase</c>; an acquired one is shared, so acquiring allocates nothing. A permit count of 0
    /// asks without taking; more than 1 is refused with a reason phrase that says so. Disposing it leaves this limiter alone.
    /// </summary>
    /// <typeparam name="TResource">What is limited, e.g. <c>HttpContext</c>.</typeparam>
    /// <param name="address">The client address of a resource, e.g. <c>context =&gt; context.Connection.RemoteIpAddress</c>; null is the shared "unknown" client.</param>
    /// <returns>The partitioned limiter.</returns>
    public System.Threading.RateLimiting.PartitionedRateLimiter<TResource> ToPartitionedRateLimiter<TResource>(Func<TResource, IPAddress?> address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new FloodgatePartitionedRateLimiter<TResource>(this, address, key: null, hasher: null);
    }

    /// <summary>
    /// As <see cref="ToPartitionedRateLimiter{TResource}(Func{TResource, IPAddress?})"/>, partitioned by a key of each
    /// resource (an API key, a user) hashed with <paramref name="hasher"/>; a resource without one (null or empty) is
    /// partitioned by its address. The lists still match the address (see <see cref="CheckKey"/>).
    /// </summary>
    /// <typeparam name="TResource">What is limited, e.g. <c>HttpContext</c>.</typeparam>
    /// <param name="address">The client address of a resource.</param>
    /// <param name="key">The key of a resource, e.g. <c>context =&gt; context.Request.Headers["X-Api-Key"]</c>.</param>
    /// <param name="hasher">Hashes keys; the same secret everywhere the state is shared or restored.</param>
    /// <returns>The partitioned limiter.</returns>
    public System.Threading.RateLimiting.PartitionedRateLimiter<TResource> ToPartitionedRateLimiter<TResource>(Func<TResource, IPAddress?> address, Func<TResource, string?> key, FloodgateKeyHasher hasher)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(hasher);
        return new FloodgatePartitionedRateLimiter<TResource>(this, address, key, hasher);
    }

    /// <summary>
    /// Applies a changed policy to this limiter while it runs: every client keeps its state (its count in the current
    /// window, its block with the time left, its block count, its blacklisting), and the new numbers apply from the next
    /// check: a client over a lowered <see cref="FloodgatePolicy.PermitLimit"/> is limited until its window ends, a
    /// raised one admits it again at once; a running block keeps its end, and the next block has the new duration.
    /// Persistence goes on in the same data directory. Checks may run meanwhile; one that started before sees the old numbers.
    /// </summary>
    /// <param name="policy">The changed policy; copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// The policy is invalid, or it changes how clients are keyed or what a slot holds (<see cref="FloodgatePolicy.Algorithm"/>,
    /// <see cref="FloodgatePolicy.Ipv4PrefixLength"/>, <see cref="FloodgatePolicy.Ipv6PrefixLength"/>): those need a new limiter.
    /// The message names each setting and its values.
    /// </exception>
    /// <exception cref="InvalidOperationException">The limiter was compiled for a policy type (<see cref="Create{TPolicy}"/>).</exception>
    public void Reconfigure(FloodgatePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (IsPrecompiled)
        {
            throw new InvalidOperationException("This Floodgate limiter runs a policy compiled with [FloodgatePolicy]: change the attribute and rebuild.");
        }

        FloodgatePolicy copy = policy.Clone();
        LimiterEngine current = _engine;
        var errors = new List<string>(copy.Validate(nameof(FloodgatePolicy)));
        FloodgatePolicy running = current.Policy;
        if (copy.Algorithm != running.Algorithm)
        {
            errors.Add($"FloodgatePolicy.Algorithm cannot change in a running limiter (slots hold another shape); running {running.Algorithm}, got {copy.Algorithm}.");
        }

        if (copy.Ipv4PrefixLength != running.Ipv4PrefixLength)
        {
            errors.Add($"FloodgatePolicy.Ipv4PrefixLength cannot change in a running limiter (clients are keyed by it); running {Show(running.Ipv4PrefixLength)}, got {Show(copy.Ipv4PrefixLength)}.");
        }

        if (copy.Ipv6PrefixLength != running.Ipv6PrefixLength)
        {
            errors.Add($"FloodgatePolicy.Ipv6PrefixLength cannot change in a running limiter (clients are keyed by it); running {Show(running.Ipv6PrefixLength)}, got {Show(copy.Ipv6PrefixLength)}.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate policy change: " + string.Join(" ", errors));
        }

        var next = new LimiterEngine<RuntimePolicyParameters>(new RuntimePolicyParameters(copy), copy, current) { EventSender = this };
        _checkpointer?.Retarget(next);
        Volatile.Write(ref _engine, next);

        static string Show(int? length) => length?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";
    }

    /// <summary>
    /// Takes a final checkpoint (when there is a data directory), releases the directory and the limiter's meter.
    /// Checks keep working on the in-memory state afterwards.
    /// </summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _checkpointer, null)?.Dispose();
        _engine.Dispose();
    }

    /// <summary>Gets how many periodic checkpoints were skipped because nothing had changed (tests).</summary>
    internal long SkippedCheckpoints => _checkpointer?.Skipped ?? 0;

    /// <summary>Gets how many checkpoint timer ticks found the previous periodic checkpoint still running (tests).</summary>
    internal long BusyCheckpointTicks => _checkpointer?.BusyTicks ?? 0;

    /// <summary>Sets what the ban journal's writer runs before each write (tests hold it there).</summary>
    internal Action? JournalWriting
    {
        set => _checkpointer!.Journal!.Writing = value;
    }

    /// <summary>Sets what a checkpoint runs once it holds the gate, before it exports anything (tests hold one there).</summary>
    internal Action? CheckpointWriting
    {
        set => _checkpointer!.Writing = value;
    }

    /// <summary>Gets what the check path reads for "now" (tests).</summary>
    internal Internal.ClockSource ClockReading => _engine.Clock.Reading;

    /// <summary>Gets the clock the limiter runs on.</summary>
    internal TimeProvider TimeProvider => _engine.Clock.TimeProvider;

    /// <summary>Gets how many records the ban journal wrote and committed (tests).</summary>
    internal long JournalRecordsWritten => _checkpointer?.Journal?.Written ?? 0;

    /// <summary>Gets the bytes the ban journal takes on disk (tests).</summary>
    internal long JournalDiskBytes => _checkpointer?.Journal?.DiskBytes ?? 0;

    /// <summary>Stops persisting without a final checkpoint and releases the directory: what a crash does (tests).</summary>
    internal void AbandonPersistence() => Interlocked.Exchange(ref _checkpointer, null)?.Abandon();

    private static LimiterEngine CreateEngine(FloodgatePolicy policy, ref FloodgateLimiterOptions? options)
    {
        ArgumentNullException.ThrowIfNull(policy);
        FloodgatePolicy copy = policy.Clone();
        options ??= new FloodgateLimiterOptions();
        ThrowIfInvalid(copy, options);
        return new LimiterEngine<RuntimePolicyParameters>(new RuntimePolicyParameters(copy), copy, options);
    }

    private static void ThrowIfInvalid(FloodgatePolicy policy, FloodgateLimiterOptions options, string policyName = nameof(FloodgatePolicy))
    {
        var errors = new List<string>(policy.Validate(policyName));
        errors.AddRange(options.Validate());
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate configuration: " + string.Join(" ", errors));
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowCostOutOfRange(int cost, int maxCost) =>
        throw new ArgumentOutOfRangeException(nameof(cost), cost, $"A request's cost must be between 1 and the policy's largest request, {maxCost} (its PermitLimit, or a token bucket's Burst).");
}
