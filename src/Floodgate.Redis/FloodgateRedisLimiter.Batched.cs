using Floodgate.Internal;
using Floodgate.Redis.Internal;
using StackExchange.Redis;

namespace Floodgate;

/// <summary>
/// <see cref="RedisSyncMode.Batched"/>: checks decided in process on a counting table, and a background exchange that
/// sends each client's permits admitted here and sets its count to the shared total (the policy's script, operation <c>a</c>).
/// </summary>
/// <remarks>
/// <para><b>The rule.</b> A request is decided here when the client's count (the shared total at the last exchange plus
/// what was admitted here since) admits it and the permits this instance admitted for the client since its last
/// acknowledged exchange stay within the budget, <see cref="FloodgateRedisOptions.BatchedShare"/> of the limit. Otherwise
/// it is checked on Redis: so a client near its limit, or spending faster than the budget per interval, is exact.</para>
/// <para><b>The bound.</b> Redis holds every admitted permit but those admitted on the instances and not yet sent, at most a
/// budget per instance; a refusal here means the client's known count is spent, and the known count never exceeds the
/// true one. So all instances together admit at most <c>limit + instances × budget</c> in a window (plus requests racing
/// one client on one instance at the same moment).</para>
/// <para><b>Violations</b> are found on Redis: a refusal here goes to Redis when the policy blocks, escalates or grants
/// more than its limit (grace, carry-over), and Redis records it and shares the ban at once.</para>
/// </remarks>
public sealed partial class FloodgateRedisLimiter
{
    /// <summary>The most keys one exchange script carries.</summary>
    private const int MaxBatchKeys = 256;

    private readonly FloodgateLimiter? _counting;
    private readonly Task _exchange;
    private readonly LogThrottle? _exchangeFailedLog;
    private readonly SemaphoreSlim _exchanging = new(1, 1);
    private readonly List<Batch> _unanswered = [];   // batches whose answer was lost, sent again as they were
    private readonly string _instanceId = Guid.NewGuid().ToString("N")[..12];
    private long _batchSequence;
    private volatile BatchedRule _rule;

    /// <summary>Gets whether this limiter decides in process with a batched exchange.</summary>
    public bool IsBatched => _counting is not null;

    /// <summary>The numbers of the batched rule, replaced with the policy.</summary>
    private sealed record BatchedRule(bool Enabled, int Budget, bool RefusalsGoToRedis);

    /// <summary>The counting table's policy: the shape, its limit and window, nothing else (blocks, grace and the rest are Redis's).</summary>
    internal static FloodgatePolicy CountingPolicy(FloodgatePolicy policy) => new()
    {
        Algorithm = policy.Algorithm,
        PermitLimit = policy.PermitLimit,
        Window = policy.Window,
        Burst = policy.Burst,
        BlockDuration = TimeSpan.Zero,
        MaxClientsPerPrefix = 0,
    };

    private static BatchedRule RuleOf(FloodgatePolicy policy, double share)
    {
        // A cooldown spaces one client's requests across instances: only Redis sees them all.
        bool enabled = policy.Cooldown <= TimeSpan.Zero;
        int limit = policy.Algorithm == FloodgateAlgorithm.TokenBucket ? policy.Burst ?? policy.PermitLimit : policy.PermitLimit;
        bool consequences = policy.BlockDuration > TimeSpan.Zero || policy.BlockLimit is not null || policy.GracePermits > 0 ||
            policy.AccumulateRequests || policy.AccumulateLimit is > 0;
        return new BatchedRule(enabled, Math.Max(1, (int)Math.Floor(limit * share)), consequences);
    }

    private FloodgateLimiter NewCountingTable(FloodgatePolicy policy) =>
        new(CountingPolicy(policy), new FloodgateLimiterOptions
        {
            Capacity = _local.Capacity,   // as large as the local table: the adapter's Floodgate:Capacity, else LocalCapacity
            TimeProvider = _time,
            Name = _name + "/batched",   // its metrics (floodgate.limiter = "api/batched") beside the local table's
            MeterFactory = _options.MeterFactory,
        });

    /// <summary>The batched decision, when this instance may make it; false: ask Redis.</summary>
    private bool TryDecideHere(in IpKey key, int cost, out Decision decision)
    {
        BatchedRule rule = _rule;
        if (!rule.Enabled)
        {
            decision = default;
            return false;
        }

        IpKey group = _local.GroupOf(in key);
        if (_counting!.TryCheckBatched(in group, cost, rule.Budget, refusals: !rule.RefusalsGoToRedis, out decision))
        {
            _metrics.LocalDecision();
            return true;
        }

        return false;
    }

    private async Task ExchangeLoopAsync(CancellationToken stopping)
    {
        var batch = new List<(int Slot, IpKey Key, int Permits)>();
        using var timer = new PeriodicTimer(_options.SyncInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    await ExchangeAsync(batch).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // The exchange must outlive any one failure: the next tick tries again, with the same permits.
                catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    if (_exchangeFailedLog!.ShouldLog(out int omitted))
                    {
                        RedisLog.ExchangeFailed(_logger, _name, LogThrottle.FirstLine(e.Message), batch.Count, omitted);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One exchange: first the batches whose answer was lost, as they were (the script counts a batch once, by its id);
    /// then every client's permits admitted here since the last one, in one script per cluster slot (at most
    /// <see cref="MaxBatchKeys"/> keys each), all sent before any answer is awaited. A batch that fails is kept, its
    /// clients' permits in flight (their budget spent), for the next exchange. Returns the clients whose permits Redis counted.
    /// </summary>
    internal async Task<int> ExchangeAsync(List<(int Slot, IpKey Key, int Permits)>? batch = null)
    {
        FloodgateLimiter counting = _counting ?? throw new InvalidOperationException("Not a batched limiter.");
        batch ??= [];
        await _exchanging.WaitAsync().ConfigureAwait(false);
        try
        {
            long started = _time.GetTimestamp();
            List<Batch> sending = [.. _unanswered];
            _unanswered.Clear();
            counting.TakeUnsent(batch);
            if (sending.Count == 0 && batch.Count == 0)
            {
                return 0;
            }

            var groups = new Dictionary<int, List<int>>();
            var keys = new RedisKey[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                keys[i] = KeyOf(ClientText(batch[i].Key));
                int slot = _redis.HashSlot(keys[i]);
                if (!groups.TryGetValue(slot, out List<int>? members))
                {
                    groups[slot] = members = [];
                }

                members.Add(i);
            }

            RedisValue clock = _options.ScriptClock is { } scriptClock ? scriptClock() : s_serverClock;
            foreach (List<int> members in groups.Values)
            {
                for (int from = 0; from < members.Count; from += MaxBatchKeys)
                {
                    int count = Math.Min(MaxBatchKeys, members.Count - from);
                    var part = new Batch(new RedisKey[count + 1], new RedisValue[count + 3], new (int, IpKey)[count]);
                    part.Args[0] = s_batch;
                    part.Args[2] = _instanceId + ":" + (++_batchSequence).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    for (int j = 0; j < count; j++)
                    {
                        (int slot, IpKey key, int permits) = batch[members[from + j]];
                        part.Keys[j] = keys[members[from + j]];
                        part.Args[j + 3] = permits;
                        part.Clients[j] = (slot, key);
                    }

                    // The receipt shares the first client's hash tag, so the batch stays in one slot.
                    part.Keys[count] = (string)part.Keys[0]! + ":r:" + _instanceId;
                    sending.Add(part);
                }
            }

            var replies = new Task<RedisResult>[sending.Count];
            for (int i = 0; i < sending.Count; i++)
            {
                sending[i].Args[1] = clock;
                replies[i] = EvaluateBatchAsync(sending[i].Keys, sending[i].Args);
            }

            int delivered = 0;
            int failed = 0;
            Exception? failure = null;
            for (int i = 0; i < sending.Count; i++)
            {
                Batch part = sending[i];
                long[] values;
                try
                {
                    values = (long[])(await replies[i].ConfigureAwait(false))!;
                }
                catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException or InvalidOperationException or InvalidCastException)
                {
                    // Redis may have counted it and the answer was lost: sent again as it is, counted once.
                    failure = e;
                    failed += part.Clients.Length;
                    _unanswered.Add(part);
                    continue;
                }

                for (int j = 0; j < part.Clients.Length; j++)
                {
                    (int slot, IpKey key) = part.Clients[j];
                    bool answered = values.Length >= (j * 3) + 3;
                    counting.CompleteSent(slot, in key, answered, answered ? values[j * 3] : 0, answered ? values[(j * 3) + 1] : 0, answered ? values[(j * 3) + 2] : 0);
                    delivered++;
                }
            }

            _metrics.Exchanged(delivered, _time.GetElapsedTime(started).TotalMilliseconds);
            if (failure is not null)
            {
                // A failed exchange counts toward the breaker like a failed check: the health check and the outage
                // policy learn of an outage even when every check is decided in process.
                if (!_breaker.IsOpen)
                {
                    OpenBreakerOnFailure(failure);
                }

                if (_exchangeFailedLog!.ShouldLog(out int omitted))
                {
                    RedisLog.ExchangeFailed(_logger, _name, LogThrottle.FirstLine(failure.Message), failed, omitted);
                }
            }
            else if (delivered > 0 && !_breaker.IsOpen)
            {
                _breaker.Success();
            }

            return delivered;
        }
        finally
        {
            _exchanging.Release();
        }
    }

    /// <summary>
    /// Exchanges until nothing admitted here is waiting for Redis, at most <paramref name="attempts"/> times (shutdown,
    /// tests): true when everything was counted.
    /// </summary>
    internal async Task<bool> FlushAsync(int attempts = 5)
    {
        for (int i = 0; i < attempts; i++)
        {
            await ExchangeAsync().ConfigureAwait(false);
            await _exchanging.WaitAsync().ConfigureAwait(false);
            bool done;
            try
            {
                done = _unanswered.Count == 0 && !_counting!.HasUnsent;
            }
            finally
            {
                _exchanging.Release();
            }

            if (done)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One script's worth of an exchange: its keys (clients, then the receipt), arguments (the operation, clock, id, permits) and clients.</summary>
    private sealed record Batch(RedisKey[] Keys, RedisValue[] Args, (int Slot, IpKey Key)[] Clients);

    /// <summary>Sends the exchange script by SHA; when the server does not have it, in full.</summary>
    private async Task<RedisResult> EvaluateBatchAsync(RedisKey[] keys, RedisValue[] args)
    {
        PolicyScript script = _script;
        try
        {
            return await _db.ScriptEvaluateAsync(script.Sha1, keys, args).WaitAsync(_options.Timeout, _time).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            _metrics.ScriptLoaded();
            return await _db.ScriptEvaluateAsync(script.Text, keys, args).WaitAsync(_options.Timeout, _time).ConfigureAwait(false);
        }
    }
}
