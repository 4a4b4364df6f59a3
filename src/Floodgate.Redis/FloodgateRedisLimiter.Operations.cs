using Floodgate.Internal;
using System.Net;
using Floodgate.Redis.Internal;
using StackExchange.Redis;

namespace Floodgate;

/// <summary>
/// Operator operations against Redis, so that every instance sees them, and how each instance's local ban table
/// learns of them: a pub/sub message at once, and a periodic re-read of its bans for messages it missed.
/// </summary>
public sealed partial class FloodgateRedisLimiter
{
    // How many clients one ban sync or listing sends in one pipelined batch.
    private const int BatchSize = 256;

    /// <summary>
    /// The client's shared state, read from Redis, with what this instance enforces: a ban its local table holds that
    /// Redis does not (Redis lost it: a FLUSHALL, a failover before replication) is reported, since this instance still
    /// refuses the client.
    /// </summary>
    /// <param name="address">The client's address; null is the shared "unknown" client.</param>
    /// <returns>The state; <see cref="ClientState.IsTracked"/> is false when neither Redis nor the local table holds anything for the client.</returns>
    /// <exception cref="RedisException">Redis is unavailable: an operator should know the operation did not happen.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<ClientState> InspectAsync(IPAddress? address) => InspectAsync(_local.GetKey(address));

    /// <summary>The client's shared state, by its key: a key hash (an API key's), or an address's key; see <see cref="InspectAsync(IPAddress?)"/>.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns>The state.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public async Task<ClientState> InspectAsync(IpKey key)
    {
        RedisResult reply = await EvaluateAsync(KeyOf(in key), s_inspect, CancellationToken.None).ConfigureAwait(false);
        return WithLocalBan(Describe(key, (long[])reply!)) with { IsAllowlisted = _local.Allowlist.Contains(in key), IsDenylisted = _local.Denylist.Contains(in key) };
    }

    /// <summary>The shared state, or the local table's ban where Redis has none: what this instance enforces.</summary>
    private ClientState WithLocalBan(ClientState shared) =>
        shared.IsBlocked || shared.IsBlacklisted ? shared : WithLocalBan(shared, _local.Inspect(shared.Client));

    private static ClientState WithLocalBan(ClientState shared, ClientState local) =>
        local.IsBlocked || local.IsBlacklisted
            ? shared with { IsTracked = true, IsBlocked = local.IsBlocked, IsBlacklisted = local.IsBlacklisted, IsPunished = local.IsPunished, BlockExpiresAt = local.BlockExpiresAt }
            : shared;

    /// <summary>Lifts the client's block on Redis (and on every instance's local table); it starts a fresh window.</summary>
    /// <param name="address">The client's address.</param>
    /// <returns>True when the client was blocked; false otherwise (a blacklisting is lifted by <see cref="UnblacklistAsync(IPAddress?)"/>).</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> UnblockAsync(IPAddress? address) => ChangeAsync(_local.GetKey(address), s_unblock, FloodgateEventKind.Unblocked, 0);

    /// <summary>As <see cref="UnblockAsync(IPAddress?)"/>, by the client's key: a key hash (an API key's), or an address's key.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns>As <see cref="UnblockAsync(IPAddress?)"/>.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> UnblockAsync(IpKey key) => ChangeAsync(key, s_unblock, FloodgateEventKind.Unblocked, 0);

    /// <summary>Blacklists the client on Redis (and on every instance's local table) until <see cref="UnblacklistAsync(IPAddress?)"/>, or <see cref="FloodgateRedisOptions.ForeverRetention"/>.</summary>
    /// <param name="address">The client's address.</param>
    /// <returns>True when the client was not blacklisted before.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> BlacklistAsync(IPAddress? address) => ChangeAsync(_local.GetKey(address), s_blacklist, FloodgateEventKind.Blacklisted, -1);

    /// <summary>As <see cref="BlacklistAsync(IPAddress?)"/>, by the client's key: a key hash (an API key's), or an address's key.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns>As <see cref="BlacklistAsync(IPAddress?)"/>.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> BlacklistAsync(IpKey key) => ChangeAsync(key, s_blacklist, FloodgateEventKind.Blacklisted, -1);

    /// <summary>Lifts the client's blacklisting on Redis (and on every instance's local table); it counts as a served punishment.</summary>
    /// <param name="address">The client's address.</param>
    /// <returns>True when the client was blacklisted.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> UnblacklistAsync(IPAddress? address) => ChangeAsync(_local.GetKey(address), s_unblacklist, FloodgateEventKind.Unblacklisted, 0);

    /// <summary>As <see cref="UnblacklistAsync(IPAddress?)"/>, by the client's key: a key hash (an API key's), or an address's key.</summary>
    /// <param name="key">The client's key.</param>
    /// <returns>As <see cref="UnblacklistAsync(IPAddress?)"/>.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    /// <exception cref="TimeoutException">Redis did not answer within <see cref="FloodgateRedisOptions.Timeout"/>.</exception>
    public Task<bool> UnblacklistAsync(IpKey key) => ChangeAsync(key, s_unblacklist, FloodgateEventKind.Unblacklisted, 0);

    /// <summary>
    /// The clients blocked or blacklisted under this policy on Redis, found by scanning this policy's keys on every
    /// primary (SCAN, in batches: it does not block the server, but its cost grows with the number of tracked clients),
    /// and those this instance's local table still refuses though Redis no longer holds their ban.
    /// </summary>
    /// <param name="cancellationToken">Stops the scan.</param>
    /// <returns>The blocked and blacklisted clients.</returns>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    public async Task<IReadOnlyList<ClientState>> GetBlockedClientsAsync(CancellationToken cancellationToken = default)
    {
        var found = new List<ClientState>();
        var batch = new List<IpKey>(BatchSize);
        foreach (IServer server in _redis.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            await foreach (RedisKey redisKey in server.KeysAsync(pattern: _keyPrefix + "*}", pageSize: 1_000).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (TryParseClient(redisKey.ToString().AsSpan(_keyPrefix.Length), out IpKey client))
                {
                    batch.Add(client);
                }

                if (batch.Count == BatchSize)
                {
                    await AddBannedAsync(batch, found).ConfigureAwait(false);
                }
            }
        }

        await AddBannedAsync(batch, found).ConfigureAwait(false);

        // Bans this instance enforces that Redis no longer holds.
        var listed = new HashSet<IpKey>(found.Select(s => s.Client));
        foreach (ClientState local in _local.GetBlockedClients())
        {
            if (listed.Add(local.Client))
            {
                found.Add(WithLocalBan(new ClientState { Client = local.Client }, local));
            }
        }

        return found;

        async Task AddBannedAsync(List<IpKey> clients, List<ClientState> into)
        {
            foreach ((IpKey client, long[] fields) in await InspectManyAsync(clients).ConfigureAwait(false))
            {
                ClientState state = Describe(client, fields);
                if (state.IsBlocked || state.IsBlacklisted)
                {
                    into.Add(state);
                }
            }

            clients.Clear();
        }
    }

    private async Task<bool> ChangeAsync(IpKey key, RedisValue operation, FloodgateEventKind kind, long localBan)
    {
        RedisResult reply = await EvaluateAsync(KeyOf(in key), operation, CancellationToken.None).ConfigureAwait(false);
        bool changed = (long)reply[0] == 1;
        MirrorDecision(in key, localBan);
        if (changed)
        {
            Raise(kind, in key, (int)reply[1], -1);
            await PublishChangeAsync((string)operation!, ClientText(in key)).ConfigureAwait(false);
        }

        return changed;
    }

    /// <summary>Announces an operator change (a ban or a list entry) to every instance.</summary>
    private async Task PublishChangeAsync(string operation, string subject)
    {
        // The version tells every instance's periodic sync that there is something to re-read.
        await _db.StringIncrementAsync(_banVersionKey).ConfigureAwait(false);
        await _db.KeyExpireAsync(_banVersionKey, _options.ForeverRetention).ConfigureAwait(false);

        // Every instance (this one too) applies it locally; one that misses it corrects at its next sync.
        await _redis.GetSubscriber().PublishAsync(_channel, $"{_name}\n{operation}\n{subject}").ConfigureAwait(false);
    }

    /// <summary>
    /// Batched: a ban a check found, announced to every instance at once (fire and forget: the request does not wait), so
    /// that one deciding this client in process refuses it too. <paramref name="ms"/> is its length, -1 a blacklisting.
    /// </summary>
    private void AnnounceBan(in IpKey key, long ms) =>
        _ = _redis.GetSubscriber().PublishAsync(_channel, $"{_name}\nk\n{ClientText(_local.GroupOf(in key))} {ms.ToString(System.Globalization.CultureInfo.InvariantCulture)}", CommandFlags.FireAndForget);

    private void Subscribe()
    {
        _redis.GetSubscriber().SubscribeAsync(_channel, _onMessage).ContinueWith(
            (t, state) => RedisLog.SubscribeFailed(((FloodgateRedisLimiter)state!)._logger, ((FloodgateRedisLimiter)state!)._channel.ToString(), t.Exception!.GetBaseException().Message),
            this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>"policy\nop\nclient" (or "policy\n+a\nnetwork" for a list) from any instance: applied to this instance's local tables.</summary>
    private void OnBanMessage(RedisChannel channel, RedisValue message)
    {
        string text = message.ToString();
        string[] parts = text.Split('\n');
        if (parts.Length != 3 || parts[0] != _name)
        {
            return;
        }

        if (parts[1].Length == 2)
        {
            OnListMessage(parts[1], parts[2]);
            return;
        }

        int space = parts[2].IndexOf(' ');
        if (!TryParseClient(space < 0 ? parts[2] : parts[2][..space], out IpKey key))
        {
            return;
        }

        switch (parts[1])
        {
            case "k" when space > 0 && long.TryParse(parts[2].AsSpan(space + 1), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long ms):
                // A ban a check found on another batched instance: held here at once (a relative block for a second at a time, as its own).
                MirrorDecision(in key, ms < 0 ? -1 : P.RelativeBlock ? Math.Min(ms, RelativeBlockLocalMs) : ms, ms);
                break;
            case "u":
            case "w":
                MirrorDecision(in key, 0);
                break;
            case "b":
                MirrorDecision(in key, -1);
                break;
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // Messages published while this instance was disconnected are lost: re-read the bans now.
        Volatile.Write(ref _syncedVersion, -1);
        _ = Task.Run(SyncBansIfChangedAsync);
    }

    private async Task SyncBansLoopAsync(CancellationToken stopping)
    {
        // At once: a new instance learns the shared lists (and re-reads bans restored from a checkpoint). A first sync
        // that fails (a connection still coming up, a slow first answer) is retried soon, not a whole BanSyncInterval
        // later: until it succeeds, the local table knows no shared ban. The retry waits on the system clock: it is
        // about a connection, not about policy time (a test's frozen clock would otherwise never retry).
        for (int attempt = 0; attempt < StartSyncAttempts && !await SyncBansIfChangedAsync().ConfigureAwait(false); attempt++)
        {
            try
            {
                await Task.Delay(StartSyncRetryDelay, TimeProvider.System, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.BanSyncInterval, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (!_breaker.IsOpen)
            {
                await SyncBansIfChangedAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The periodic sync: only a message missed about an operator change can leave the local table wrong (blocks
    /// decided by checks arrive with their answers and end by the local clock), and every operator change bumps the
    /// ban version, so the bans are re-read only when the version moved since the last sync (and at the first one).
    /// </summary>
    private const int StartSyncAttempts = 40;
    private static readonly TimeSpan StartSyncRetryDelay = TimeSpan.FromMilliseconds(250);

    private async Task<bool> SyncBansIfChangedAsync()
    {
        long version;
        try
        {
            version = (long)await _db.StringGetAsync(_banVersionKey).WaitAsync(_options.Timeout, _time).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A background loop: log and try again at the next interval.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogBanSyncFailed(e);
            return false;
        }

        if (version == Volatile.Read(ref _syncedVersion))
        {
            return true;
        }

        if (await SyncBansAsync().ConfigureAwait(false) && await SyncListsAsync().ConfigureAwait(false))
        {
            Volatile.Write(ref _syncedVersion, version);
            return true;
        }

        return false;
    }

    /// <summary>Re-reads every ban of the local table from Redis and makes the table agree; false when it could not.</summary>
    /// <remarks>
    /// A decision (a check's reply, an operator's message) may change a client's ban after the sync read Redis: the sync
    /// leaves such a client alone (the decision is newer than what it read), and if one lands while it writes, it drops
    /// the client's local ban, so that the next check asks Redis. Never an older shared block over a newer local one.
    /// </remarks>
    internal async Task<bool> SyncBansAsync()
    {
        var decided = new System.Collections.Concurrent.ConcurrentDictionary<IpKey, byte>();
        Volatile.Write(ref _decidedDuringSync, decided);
        try
        {
            IReadOnlyList<ClientState> local = _local.GetBlockedClients();
            int corrected = 0;
            for (int i = 0; i < local.Count; i += BatchSize)
            {
                var batch = new List<IpKey>(BatchSize);
                for (int j = i; j < Math.Min(local.Count, i + BatchSize); j++)
                {
                    batch.Add(local[j].Client);
                }

                List<(IpKey Client, long[] Fields)> read = await InspectManyAsync(batch).ConfigureAwait(false);
                if (AfterSyncReadForTests is { } afterRead)
                {
                    await afterRead().ConfigureAwait(false);
                }

                foreach ((IpKey client, long[] fields) in read)
                {
                    if (decided.ContainsKey(client))
                    {
                        continue;   // decided since the read: newer than what was read
                    }

                    ClientState shared = Describe(client, fields);
                    long left = shared.IsBlocked ? (long)Math.Ceiling((shared.BlockExpiresAt!.Value - _time.GetUtcNow()).TotalMilliseconds) : 0;
                    long want = shared.IsBlacklisted ? -1 : left > 0 ? (P.RelativeBlock ? Math.Min(left, RelativeBlockLocalMs) : left) : 0;
                    bool agrees = _local.TryGetBan(in client, out Decision held)
                        ? (want < 0 ? held.Reason == DecisionReason.Blacklisted : want > 0 && held.Reason == DecisionReason.Blocked)
                        : want == 0;
                    corrected += agrees ? 0 : 1;
                    _local.MirrorBan(in client, want);   // also brings a held block's end to the shared one
                    if (decided.ContainsKey(client))
                    {
                        _local.MirrorBan(in client, 0);  // a decision raced this write: let the next check ask Redis
                    }
                }
            }

            if (corrected > 0)
            {
                RedisLog.BanSyncCorrected(_logger, _name, corrected, local.Count);
            }

            return true;
        }
#pragma warning disable CA1031 // A background loop: log and try again at the next interval.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogBanSyncFailed(e);
            return false;
        }
        finally
        {
            Interlocked.CompareExchange(ref _decidedDuringSync, null, decided);
        }
    }

    /// <summary>A ban decided now (a check's reply, an operator's message) into the local table, noted for a running sync.</summary>
    /// <remarks>
    /// Batched, the counting table holds the ban too, for its whole length (<paramref name="fullMs"/>; a relative block is
    /// held locally a second at a time): once the local table lets the client through, its next request is a refusal of
    /// the counting table, which goes to Redis, so a block that Redis extends or still holds is never admitted in process.
    /// </remarks>
    private void MirrorDecision(in IpKey key, long durationMs, long? fullMs = null)
    {
        Volatile.Read(ref _decidedDuringSync)?.TryAdd(_local.GroupOf(in key), 0);
        _local.MirrorBan(in key, durationMs);
        _counting?.MirrorBan(_local.GroupOf(in key), fullMs ?? durationMs);
        if (durationMs == 0)
        {
            _counting?.HoldRefusal(_local.GroupOf(in key), 0);   // lifted: a refusal Redis made before no longer holds
        }
    }

    /// <summary>Reads several clients' fields in one pipelined batch (each script touches its own key: cluster-safe).</summary>
    private async Task<List<(IpKey Client, long[] Fields)>> InspectManyAsync(List<IpKey> clients)
    {
        var pending = new Task<RedisResult>[clients.Count];
        for (int i = 0; i < clients.Count; i++)
        {
            pending[i] = EvaluateAsync(KeyOf(clients[i]), s_inspect, CancellationToken.None);
        }

        var results = new List<(IpKey, long[])>(clients.Count);
        for (int i = 0; i < pending.Length; i++)
        {
            results.Add((clients[i], (long[])(await pending[i].ConfigureAwait(false))!));
        }

        return results;
    }

    /// <summary>The client's state from the script's inspect reply {now, ws, c, bc, cy, bu, p, x, oc, qf, la}, as the in-process engine describes it.</summary>
    private ClientState Describe(IpKey key, long[] f)
    {
        long now = f[0], ws = f[1], bu = f[5], oc = f[8], qf = f[9];
        int c = (int)f[2], cy = (int)f[4];
        bool punished = f[6] == 1, blacklisted = f[7] == 1;
        bool tracked = ws != 0 || bu != 0 || oc != 0 || blacklisted || f[10] != 0;
        bool blocked = !blacklisted && bu > now;
        bool blockEnded = bu > ws && bu <= now;
        bool active;
        int counted, remaining;
        long resetAfter;
        if (P.Algorithm == FloodgateAlgorithm.TokenBucket)
        {
            ShapeMath.DescribeBucket(ws, c, now, P.PermitLimit, P.WindowMs, (long)P.Burst * P.WindowMs, out counted, out remaining, out resetAfter);
            active = counted > 0;
        }
        else if (P.Algorithm == FloodgateAlgorithm.SlidingWindow)
        {
            ShapeMath.DescribeSliding(blockEnded ? 0 : ws, c, blockEnded ? 0 : cy, now, P.PermitLimit, P.WindowMs, out counted, out remaining, out resetAfter);
            active = resetAfter > 0;
        }
        else
        {
            active = ws != 0 && now - ws < P.WindowMs && !blockEnded;
            int carry = P.AccumulateCap > 0 && ws != 0 && !(P.MaxWindowMs >= 0 && now - ws >= P.MaxWindowMs)
                ? Math.Clamp(P.PermitLimit + P.AccumulateCap - c, 0, P.AccumulateCap)
                : 0;
            remaining = active ? Math.Max(0, P.PermitLimit + P.AccumulateCap - c) : P.PermitLimit + carry;
            counted = active ? Math.Max(0, c - (P.AccumulateCap - cy)) : 0;
            resetAfter = active ? Math.Max(0, ws + P.WindowMs - now) : 0;
        }

        int count = (int)oc;
        if (count != 0 && !blacklisted && bu <= now &&
            ((P.BlockExceedReset && punished) || (P.MaxWindowMs >= 0 && now - Math.Max(qf, bu) >= P.MaxWindowMs)))
        {
            count = 0;
        }

        return new ClientState
        {
            Client = key,
            IsTracked = tracked,
            IsWindowActive = active,
            Count = counted,
            Remaining = blocked || blacklisted ? 0 : remaining,
            ResetAfter = TimeSpan.FromMilliseconds(resetAfter),
            IsBlocked = blocked,
            IsPunished = punished && (blocked || blacklisted),
            IsBlacklisted = blacklisted,
            BlockExpiresAt = blocked ? _time.GetUtcNow().AddMilliseconds(bu - now) : null,
            BlockCount = count,
        };
    }

    /// <summary>A failed ban sync, at most once a minute (it is retried every BanSyncInterval while Redis is down).</summary>
    private void LogBanSyncFailed(Exception e)
    {
        if (_banSyncFailedLog.ShouldLog(out int omitted))
        {
            RedisLog.BanSyncFailed(_logger, _name, LogThrottle.FirstLine(e.Message), (long)_options.BanSyncInterval.TotalMilliseconds, omitted);
        }
    }

    private bool TryParseClient(ReadOnlySpan<char> text, out IpKey key)
    {
        if (text.EndsWith("}"))
        {
            text = text[..^1];
        }

        if (FloodgateKeyHasher.TryParse(text, out key))
        {
            return true;
        }

        if (text.SequenceEqual("unknown"))
        {
            key = IpKey.Unknown;
            return true;
        }

        if (IPAddress.TryParse(text, out IPAddress? address))
        {
            key = _local.GetKey(address);
            return true;
        }

        key = default;
        return false;
    }
}
