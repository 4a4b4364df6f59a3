using System.Net;
using Floodgate.Internal;
using Floodgate.Redis.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Floodgate;

/// <summary>
/// One policy shared by every app instance through Redis (standalone or Redis Cluster): each check is one atomic
/// Lua script on the server, with the server's clock, and the same decisions as <see cref="FloodgateLimiter"/>.
/// Clients known to be blocked or blacklisted are answered from a local table without a round trip; operator
/// changes reach every instance's table through pub/sub. While Redis is unavailable, checks follow
/// <see cref="FloodgateRedisOptions.OutagePolicy"/> and never wait longer than <see cref="FloodgateRedisOptions.Timeout"/>.
/// </summary>
public sealed partial class FloodgateRedisLimiter : IAsyncDisposable
{
    // A relative block is extended by every request during it, on the server: a local answer for one lasts at most
    // this long, so the server still sees about one request a second from the client and keeps extending it.
    private const long RelativeBlockLocalMs = 1_000;

    private static readonly RedisValue s_check = "c";
    private static readonly RedisValue s_inspect = "i";
    private static readonly RedisValue s_unblock = "u";
    private static readonly RedisValue s_blacklist = "b";
    private static readonly RedisValue s_unblacklist = "w";
    private static readonly RedisValue s_blockFor = "f";
    private static readonly RedisValue s_batch = "a";
    private static readonly RedisValue s_serverClock = string.Empty;

    private readonly string _name;
    private readonly FloodgateRedisOptions _options;
    private volatile PolicyScript _script;   // the policy's script and numbers, replaced together by Reconfigure
    private readonly FloodgateLimiter _local;
    private readonly bool _ownsLocal;
    private readonly IConnectionMultiplexer _redis;
    private readonly bool _ownsRedis;
    private readonly IDatabase _db;
    private readonly RedisChannel _channel;
    private readonly string _keyPrefix;
    private readonly CircuitBreaker _breaker;
    private readonly RedisMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _banSync;
    private readonly Action<RedisChannel, RedisValue> _onMessage;

    // The clients whose ban a decision changed while a ban sync runs (null when none runs): see SyncBansAsync.
    private System.Collections.Concurrent.ConcurrentDictionary<IpKey, byte>? _decidedDuringSync;
    private readonly RedisKey _banVersionKey;
    private readonly LogThrottle _checkFailedLog;
    private readonly LogThrottle _banSyncFailedLog;
    private long _syncedVersion = -1;   // the ban version the local table last agreed with; -1: never synced
    private Task _probing = Task.CompletedTask;
    private int _disposed;

    /// <summary>Creates a limiter for <paramref name="policy"/> under the name <c>"default"</c>.</summary>
    /// <param name="policy">The policy; validated, then copied.</param>
    /// <param name="options">Where Redis is and the outage policy; validated, then copied.</param>
    /// <exception cref="ArgumentException">The policy or an option is invalid; the message names each bad setting and value.</exception>
    public FloodgateRedisLimiter(FloodgatePolicy policy, FloodgateRedisOptions options)
        : this("default", policy, options)
    {
    }

    /// <summary>Creates a limiter for <paramref name="policy"/> under <paramref name="name"/>, the policy's part of every key.</summary>
    /// <param name="name">The policy name: instances that share a limit use the same name and policy.</param>
    /// <param name="policy">The policy; validated, then copied.</param>
    /// <param name="options">Where Redis is and the outage policy; validated, then copied.</param>
    /// <exception cref="ArgumentException">The name, the policy or an option is invalid; the message names each bad setting and value.</exception>
    public FloodgateRedisLimiter(string name, FloodgatePolicy policy, FloodgateRedisOptions options)
        : this(name, policy, options, local: null)
    {
    }

    /// <summary>Gets the policy's numbers, read in place from the current script.</summary>
    private ref readonly RuntimePolicyParameters P => ref _script.Parameters;

    /// <summary>The adapter's constructor: <paramref name="local"/> (built with <see cref="LocalPolicy"/>) is the local table, owned by the caller.</summary>
    internal FloodgateRedisLimiter(string name, FloodgatePolicy policy, FloodgateRedisOptions options, FloodgateLimiter? local)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(name) || name.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            errors.Add($"FloodgateRedisLimiter name must be non-empty and contain no braces; got '{name}'.");
        }

        errors.AddRange(policy.Validate(name ?? nameof(FloodgatePolicy)));
        errors.AddRange(options.Validate());
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate Redis configuration: " + string.Join(" ", errors));
        }

        _name = name!;
        _options = options.Clone();
        _script = new PolicyScript(policy, _options.ForeverRetention);
        _time = _options.TimeProvider;
        _logger = _options.Logger ?? NullLogger.Instance;
        _breaker = new CircuitBreaker(_options.BreakerFailureThreshold);
        _metrics = new RedisMetrics(_name, _options.MeterFactory);
        _keyPrefix = _options.KeyPrefix + _name + ":{";
        _channel = RedisChannel.Literal(_options.KeyPrefix + "bans");
        _banVersionKey = _options.KeyPrefix + "bans:version";
        _checkFailedLog = new LogThrottle(_time, TimeSpan.FromMinutes(1));
        _banSyncFailedLog = new LogThrottle(_time, TimeSpan.FromMinutes(1));
        SharedAllowlist = new SharedAccessList(this, deny: false);
        SharedDenylist = new SharedAccessList(this, deny: true);

        _ownsLocal = local is null;
        _local = local ?? new FloodgateLimiter(LocalPolicy(policy, _options.LocalFallbackShare), new FloodgateLimiterOptions
        {
            Capacity = _options.LocalCapacity,
            Ipv6PrefixLength = _options.Ipv6PrefixLength,
            TimeProvider = _time,
            Name = _name,
            MeterFactory = _options.MeterFactory,
            Logger = _options.Logger,
        });

        // Batched: the policy's own choice, else the app's; outbound budgets (no operator sync) are always exact.
        _rule = RuleOf(policy, _options.BatchedShare);
        if (_options.SyncModeOf(_name) == RedisSyncMode.Batched && _options.OperatorSync)
        {
            _counting = NewCountingTable(policy);
            _exchangeFailedLog = new LogThrottle(_time, TimeSpan.FromMinutes(1));
        }

        try
        {
            _ownsRedis = _options.ConnectionMultiplexer is null;
            _redis = _options.ConnectionMultiplexer ?? Connect(_options);
            _db = _redis.GetDatabase();
            _onMessage = OnBanMessage;
            if (_options.OperatorSync)
            {
                Subscribe();
                _redis.ConnectionRestored += OnConnectionRestored;
            }
        }
        catch
        {
            _metrics.Dispose();
            _counting?.Dispose();
            if (_ownsLocal)
            {
                _local.Dispose();
            }

            throw;
        }

        _exchange = _counting is null ? Task.CompletedTask : Task.Run(() => ExchangeLoopAsync(_stopping.Token));
        _banSync = _options.OperatorSync ? Task.Run(() => SyncBansLoopAsync(_stopping.Token)) : Task.CompletedTask;
    }

    /// <summary>Raised when a check of this instance blocks, punishes or blacklists a client, or an operator call here lifts one.</summary>
    public event EventHandler<FloodgateEventArgs>? ClientStateChanged;

    /// <summary>Gets a value indicating whether checks go to Redis: false while the circuit breaker is open.</summary>
    public bool IsRedisAvailable => !_breaker.IsOpen;

    /// <summary>Gets the policy name, the policy's part of every key.</summary>
    public string Name => _name;

    /// <summary>
    /// Gets this instance's allowlist: clients on it are allowed without a round trip. It holds this instance's own
    /// entries (changes here stay here) and the entries of <see cref="SharedAllowlist"/>, mirrored from Redis.
    /// </summary>
    public AccessList Allowlist => _local.Allowlist;

    /// <summary>
    /// Gets this instance's denylist: clients on it are denied (403) without a round trip. It holds this instance's own
    /// entries (changes here stay here) and the entries of <see cref="SharedDenylist"/>, mirrored from Redis.
    /// </summary>
    public AccessList Denylist => _local.Denylist;

    /// <summary>
    /// Decides one request: lists and known bans locally, everything else in one script on Redis. Never throws
    /// because of Redis: a failure or a wait past <see cref="FloodgateRedisOptions.Timeout"/> is decided by the outage policy.
    /// </summary>
    /// <param name="address">The client's address; null is the shared "unknown" client.</param>
    /// <param name="cancellationToken">Cancels the wait (the caller's request was aborted).</param>
    /// <returns>The decision.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
#pragma warning disable RS0027 // The shipped overload keeps its optional token; the cost overload takes it explicitly (RS0026).
    public ValueTask<Decision> CheckAsync(IPAddress? address, CancellationToken cancellationToken = default) =>
        CheckAsync(address, 1, cancellationToken);
#pragma warning restore RS0027

    /// <summary>
    /// Counts a request that costs <paramref name="cost"/> permits on Redis: all of them or none (see
    /// <see cref="FloodgateLimiter.Check(IPAddress?, int)"/>); otherwise as <see cref="CheckAsync(IPAddress?, CancellationToken)"/>.
    /// </summary>
    /// <param name="address">The client's address; null is the shared "unknown" client.</param>
    /// <param name="cost">The permits the request costs: 1 to the policy's largest request (its PermitLimit, or a token bucket's Burst).</param>
    /// <param name="cancellationToken">Cancels the wait (the caller's request was aborted).</param>
    /// <returns>The decision.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is out of range.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<Decision> CheckAsync(IPAddress? address, int cost, CancellationToken cancellationToken) =>
        CheckKeyAsync(address, _local.GetKey(address), cost, cancellationToken);   // the client is its address's key

    /// <summary>
    /// Counts a request of a client known by a key hash (an API key, a user: see <see cref="FloodgateLimiter.CheckKey"/>) on
    /// Redis: the lists match <paramref name="address"/>, the count and bans belong to <paramref name="key"/>. Redis holds
    /// the hash, never the key's value. Otherwise as <see cref="CheckAsync(IPAddress?, int, CancellationToken)"/>.
    /// </summary>
    /// <param name="address">The request's address, for the lists.</param>
    /// <param name="key">The client's key hash (<see cref="FloodgateKeyHasher"/>, with the same secret on every instance).</param>
    /// <param name="cost">The permits the request costs.</param>
    /// <param name="cancellationToken">Cancels the wait (the caller's request was aborted).</param>
    /// <returns>The decision.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is out of range.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<Decision> CheckKeyAsync(IPAddress? address, IpKey key, int cost, CancellationToken cancellationToken)
    {
        if (cost < 1 || cost > MaxCost)
        {
            throw new ArgumentOutOfRangeException(nameof(cost), cost, $"A request's cost must be between 1 and the policy's largest request, {MaxCost} (its PermitLimit, or a token bucket's Burst).");
        }

        return _local.TryListDecision(_local.GetKey(address), out Decision listed)
            ? new ValueTask<Decision>(listed)
            : CheckAsync(key, client: null, cancellationToken, cost);
    }

    /// <summary>
    /// Tells what a check would decide now, counting nothing (see <see cref="FloodgateLimiter.Peek(IPAddress?, int)"/>): the
    /// lists and known bans locally, the shared state from Redis (one round trip, the inspect operation). While Redis
    /// cannot be reached, the local table's view answers. Never throws because of Redis.
    /// </summary>
    /// <param name="address">The request's address.</param>
    /// <param name="key">The client's key hash, or null to use the address.</param>
    /// <param name="cost">The permits the request would cost.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The decision a check would make now.</returns>
    public async ValueTask<Decision> PeekAsync(IPAddress? address, IpKey? key, int cost, CancellationToken cancellationToken)
    {
        IpKey listed = _local.GetKey(address);
        IpKey client = key ?? listed;
        if (_local.TryListDecision(in listed, out Decision decision) || (_options.LocalBanTable && _local.TryGetBan(in client, out decision)))
        {
            return decision;
        }

        if (_counting is not null && _rule.Enabled)
        {
            // Batched: what this instance knows, as a check here would see it (a policy counting only some answers peeks
            // before every request: no round trip for it).
            return _counting.PeekKey(address, _local.GroupOf(in client), cost);
        }

        if (_breaker.IsOpen)
        {
            return _local.PeekKey(address, in client, cost);
        }

        long[] fields;
        try
        {
            RedisResult reply = await EvaluateAsync(KeyOf(in client), s_inspect, cancellationToken).ConfigureAwait(false);
            fields = (long[])reply!;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is RedisException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            return _local.PeekKey(address, in client, cost);
        }

        ClientState state = Describe(client, fields);
        if (state.IsBlacklisted)
        {
            return Decision.Forbidden(DecisionReason.Blacklisted, P.PermitLimit);
        }

        long resetAfter = (long)state.ResetAfter.TotalMilliseconds;
        if (state.IsBlocked)
        {
            long left = Math.Max(1, (long)Math.Ceiling(((state.BlockExpiresAt ?? _time.GetUtcNow()) - _time.GetUtcNow()).TotalMilliseconds));
            return Decision.Denied(DecisionReason.Blocked, P.PermitLimit, left, left);
        }

        return state.Remaining >= cost
            ? new Decision(DecisionReason.Allowed, P.PermitLimit, state.Remaining, 0, resetAfter > 0 || P.Algorithm == FloodgateAlgorithm.TokenBucket ? resetAfter : P.WindowMs)
            : Decision.Denied(DecisionReason.RateLimited, P.PermitLimit, Math.Max(1, resetAfter), resetAfter);
    }

    /// <summary>
    /// Applies a changed policy: the clients' state in Redis is kept and the new numbers apply from the next check
    /// (the script is replaced; Redis loads it on first use). The local table is the caller's to change when it owns it
    /// (built with the store's <c>LocalPolicy</c>); one this limiter made itself changes with it.
    /// </summary>
    /// <param name="policy">The changed policy.</param>
    /// <exception cref="ArgumentException">The policy is invalid or changes its <see cref="FloodgatePolicy.Algorithm"/>.</exception>
    public void Reconfigure(FloodgatePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var errors = new List<string>(policy.Validate(_name));
        if (policy.Algorithm != P.Algorithm)
        {
            errors.Add($"{_name}.Algorithm cannot change in a running limiter; running {P.Algorithm}, got {policy.Algorithm}.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate policy change: " + string.Join(" ", errors));
        }

        if (_ownsLocal)
        {
            _local.Reconfigure(LocalPolicy(policy, _options.LocalFallbackShare));
        }

        _script = new PolicyScript(policy, _options.ForeverRetention);
        _counting?.Reconfigure(CountingPolicy(policy));
        _rule = RuleOf(policy, _options.BatchedShare);
    }

    /// <summary>Gets the most permits one request may cost: the shared policy's PermitLimit, or a token bucket's Burst.</summary>
    public int MaxCost => ShapeMath.LargestRequest(P.Algorithm == FloodgateAlgorithm.TokenBucket, P.PermitLimit, P.Burst);

    /// <summary>
    /// Known bans locally, then Redis (or the outage policy): <paramref name="key"/> in the local table, <paramref name="client"/>
    /// on Redis (null: the key's own text; an outbound budget passes its name, which is the same on every instance).
    /// </summary>
    internal ValueTask<Decision> CheckAsync(IpKey key, string? client, CancellationToken cancellationToken, int cost = 1)
    {
        if (_options.LocalBanTable && _local.TryGetBan(in key, out Decision banned))
        {
            _metrics.LocalHit();
            return new ValueTask<Decision>(banned);
        }

        if (_counting is not null && client is null && TryDecideHere(in key, cost, out Decision here))
        {
            return new ValueTask<Decision>(here);
        }

        if (_breaker.IsOpen)
        {
            return new ValueTask<Decision>(Outage(in key, cost));
        }

        return CheckOnRedisAsync(key, client, cost, cancellationToken);
    }

    /// <summary>Blocks <paramref name="client"/> on Redis for at least <paramref name="duration"/> (a backoff) and locally at once; no block is counted.</summary>
    /// <returns>True when the backoff was set or extended (on Redis; or only locally while the breaker is open).</returns>
    internal async Task<bool> BlockForAsync(IpKey key, string client, TimeSpan duration)
    {
        long ms = Math.Max(1, (long)Math.Ceiling(duration.TotalMilliseconds));
        if (!(_local.TryGetBan(in key, out Decision held) && (held.Reason == DecisionReason.Blacklisted || held.RetryAfter >= duration)))
        {
            MirrorDecision(in key, ms);
        }

        if (_breaker.IsOpen)
        {
            return true;   // held locally; Redis is not waited on while the breaker is open
        }

        RedisResult reply = await EvaluateAsync(KeyOf(client), s_blockFor, CancellationToken.None, ms).ConfigureAwait(false);
        return (long)reply[0] == 1;
    }

    /// <summary>Stops the background work and, when Floodgate made them, closes the connection and the local table.</summary>
    /// <returns>A task that completes when everything stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _redis.ConnectionRestored -= OnConnectionRestored;
        try
        {
            await _redis.GetSubscriber().UnsubscribeAsync(_channel, _onMessage).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Best effort on the way out: the connection may be gone.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        await Task.WhenAll(_banSync, _probing, _exchange).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_counting is not null)
        {
            // The last exchange: what this instance admitted reaches Redis before the connection closes.
            await ((Task)FlushAsync(attempts: 3)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _counting.Dispose();
        }

        if (_ownsRedis)
        {
            await _redis.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownsLocal)
        {
            _local.Dispose();
        }

        _metrics.Dispose();
        _stopping.Dispose();
        _exchanging.Dispose();
    }

    /// <summary>The local table's policy: the shared one at <paramref name="share"/> of its permits (at least one).</summary>
    internal static FloodgatePolicy LocalPolicy(FloodgatePolicy policy, double share)
    {
        FloodgatePolicy local = policy.Clone();
        local.PermitLimit = Math.Max(1, (int)Math.Floor(policy.PermitLimit * share));
        if (policy.AccumulateLimit is int accumulate)
        {
            local.AccumulateLimit = (int)Math.Floor(accumulate * share);
        }

        if (policy.Burst is int burst)
        {
            local.Burst = Math.Max(1, (int)Math.Floor(burst * share));
        }

        local.GracePermits = (int)Math.Floor(policy.GracePermits * share);
        return local;
    }

    /// <summary>Gets the local table (tests).</summary>
    internal FloodgateLimiter Local => _local;

    /// <summary>Gets or sets what a ban sync runs between reading Redis and writing the local table (tests only: a decision racing the sync).</summary>
    internal Func<Task>? AfterSyncReadForTests { get; set; }

    /// <summary>Gets the shared version the local tables last agreed with; -1 before the first sync (tests).</summary>
    internal long SyncedVersion => Volatile.Read(ref _syncedVersion);

    private async ValueTask<Decision> CheckOnRedisAsync(IpKey key, string? client, int cost, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        RedisResult reply;
        try
        {
            // A cost above 1 is the script's third argument.
            reply = await EvaluateAsync(client is null ? KeyOf(in key) : KeyOf(client), s_check, cancellationToken, cost == 1 ? -1 : cost).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is RedisException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            return Failed(in key, e, cost);
        }

        _breaker.Success();
        _metrics.RoundTrip(_time.GetElapsedTime(started).TotalMilliseconds);
        Decision decision = FromReply(in key, reply);
        if (_counting is not null && client is null && decision.Reason == DecisionReason.RateLimited)
        {
            // Batched: Redis refuses this client until then (its count only grows meanwhile), so refusals here need not ask again.
            _counting.HoldRefusal(_local.GroupOf(in key), (long)Math.Ceiling(decision.RetryAfter.TotalMilliseconds));
        }

        return decision;
    }

    /// <summary>Sends the policy's script by SHA; when the server does not have it (restart, failover, SCRIPT FLUSH), in full.</summary>
    private async Task<RedisResult> EvaluateAsync(RedisKey key, RedisValue operation, CancellationToken cancellationToken, long argument = -1)
    {
        RedisKey[] keys = [key];
        RedisValue clockArgument = _options.ScriptClock is { } clock ? clock() : s_serverClock;
        RedisValue[] args = argument < 0 ? [operation, clockArgument] : [operation, clockArgument, argument];
        try
        {
            return await _db.ScriptEvaluateAsync(_script.Sha1, keys, args).WaitAsync(_options.Timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            _metrics.ScriptLoaded();
            RedisLog.ScriptReloaded(_logger, _name);
            return await _db.ScriptEvaluateAsync(_script.Text, keys, args).WaitAsync(_options.Timeout, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private Decision FromReply(in IpKey key, RedisResult reply)
    {
        // An allowed request's reply is {reason, remaining, 0, reset}; the others carry the event too.
        var reason = (DecisionReason)(int)reply[0];
        int remaining = (int)reply[1];
        long retry = (long)reply[2];
        long reset = (long)reply[3];
        if (reason == DecisionReason.Allowed)
        {
            return new Decision(DecisionReason.Allowed, P.PermitLimit, remaining, 0, reset);
        }

        int kind = (int)reply[4];

        if (reason == DecisionReason.Blacklisted)
        {
            MirrorDecision(in key, -1);
        }
        else if (reason == DecisionReason.Blocked && retry > 0)
        {
            MirrorDecision(in key, P.RelativeBlock ? Math.Min(retry, RelativeBlockLocalMs) : retry, retry);
        }

        if (_counting is not null && reason is DecisionReason.Blocked or DecisionReason.Blacklisted && kind != 0)
        {
            AnnounceBan(in key, reason == DecisionReason.Blacklisted ? -1 : retry);
        }

        if (kind != 0)
        {
            Raise(kind switch { 1 => FloodgateEventKind.Blocked, 2 => FloodgateEventKind.Punished, _ => FloodgateEventKind.Blacklisted },
                in key, (int)reply[5], (long)reply[6]);
        }

        return reason is DecisionReason.Blacklisted or DecisionReason.Denylisted
            ? Decision.Forbidden(reason, P.PermitLimit)
            : Decision.Denied(reason, P.PermitLimit, retry, reset);
    }

    private Decision Failed(in IpKey key, Exception e, int cost)
    {
        if (!OpenBreakerOnFailure(e) && !_breaker.IsOpen && _checkFailedLog.ShouldLog(out int omitted))
        {
            RedisLog.CheckFailed(_logger, _name, LogThrottle.FirstLine(e.Message), _options.OutagePolicy, omitted);
        }

        return Outage(in key, cost);
    }

    /// <summary>Counts a failed round trip (a check's, or a batched exchange's); true when it opened the breaker, which then probes Redis.</summary>
    private bool OpenBreakerOnFailure(Exception e)
    {
        if (!_breaker.Failure())
        {
            return false;
        }

        _metrics.BreakerChanged(open: true);
        RedisLog.BreakerOpened(_logger, _name, _breaker.Failures, LogThrottle.FirstLine(e.Message), _options.OutagePolicy, (long)_options.ProbeInterval.TotalMilliseconds);
        _probing = Task.Run(() => ProbeLoopAsync(_stopping.Token));
        return true;
    }

    /// <summary>The decision while Redis is unavailable (known bans were already answered locally).</summary>
    private Decision Outage(in IpKey key, int cost)
    {
        _metrics.Fallback(_options.OutagePolicy);
        return _options.OutagePolicy switch
        {
            RedisOutagePolicy.FailOpen => new Decision(DecisionReason.Allowed, P.PermitLimit, P.PermitLimit, 0, P.WindowMs),
            RedisOutagePolicy.FailClosed => Decision.Denied(DecisionReason.RateLimited, P.PermitLimit, 1000, 1000),
            _ => _local.Check(in key, Math.Min(cost, _local.MaxCost)),   // the local share may be smaller than the cost
        };
    }

    private async Task ProbeLoopAsync(CancellationToken stopping)
    {
        RedisKey probe = _keyPrefix + "probe}";
        while (!stopping.IsCancellationRequested && _breaker.IsOpen)
        {
            try
            {
                await Task.Delay(_options.ProbeInterval, _time, stopping).ConfigureAwait(false);
                await EvaluateAsync(probe, s_inspect, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed probe is the expected outcome while Redis is down: probe again.
            catch (Exception)
#pragma warning restore CA1031
            {
                continue;
            }

            if (_breaker.Close())
            {
                _metrics.BreakerChanged(open: false);
                RedisLog.BreakerClosed(_logger, _name);

                // Bans and lists may have changed on Redis during the outage, and local fallback bans are this instance's own.
                if (_options.OperatorSync)
                {
                    await SyncBansAsync().ConfigureAwait(false);
                    await SyncListsAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The client's Redis key: under its group when the policy counts clients by a prefix (see <see cref="FloodgateLimiter.GroupOf"/>).</summary>
    private RedisKey KeyOf(in IpKey key) => KeyOf(ClientText(_local.GroupOf(in key)));

    /// <summary>A client as Redis names it: its address, or a key hash in full (<c>k</c> and 30 hex digits: a valid hash tag, never the key's value).</summary>
    private static string ClientText(in IpKey key) => key.IsKeyHash ? FloodgateKeyHasher.Format(in key) : key.ToString();

    private RedisKey KeyOf(string client) => _keyPrefix + client + "}";

    private void Raise(FloodgateEventKind kind, in IpKey key, int blockCount, long durationMs)
    {
        EventHandler<FloodgateEventArgs>? handler = ClientStateChanged;
        if (handler is null)
        {
            return;
        }

        TimeSpan? duration = durationMs >= 0 ? TimeSpan.FromMilliseconds(durationMs) : null;
        try
        {
            handler(this, new FloodgateEventArgs(kind, key, blockCount, duration, duration is { } d ? _time.GetUtcNow() + d : null));
        }
#pragma warning disable CA1031 // The check path must not throw because of an application's handler.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    internal static ConnectionMultiplexer Connect(FloodgateRedisOptions options)
    {
        ConfigurationOptions configuration = ConfigurationOptions.Parse(options.Configuration!);
        configuration.AbortOnConnectFail = false;                 // start even while Redis is down: the outage policy decides
        configuration.BacklogPolicy = BacklogPolicy.FailFast;      // never queue checks behind a lost connection
        configuration.AsyncTimeout = Math.Max(1, (int)options.Timeout.TotalMilliseconds);
        configuration.SyncTimeout = configuration.AsyncTimeout;
        configuration.ConnectTimeout = Math.Max(1_000, configuration.AsyncTimeout);
        configuration.ConnectRetry = 1;
        configuration.ClientName ??= "floodgate";
        return ConnectionMultiplexer.Connect(configuration);
    }
}
