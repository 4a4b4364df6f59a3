namespace Floodgate.Internal;

/// <summary>Operator operations: inspect, list, unblock, blacklist. Not on the request path; they may allocate.</summary>
internal sealed partial class LimiterEngine<TParams>
{
    public override ClientState Inspect(in IpKey client)
    {
        IpKey key = Grouped(in client);
        int slot = Find(in key);
        ClientState state = slot >= 0
            ? Describe(slot, key, Clock.StampMs())
            : new ClientState { Client = key, Remaining = _p.Algorithm == FloodgateAlgorithm.TokenBucket ? _p.Burst : _p.PermitLimit };
        return state with { IsAllowlisted = Allowlist.Contains(in client), IsDenylisted = Denylist.Contains(in client) };
    }

    public override IReadOnlyList<ClientState> GetBlockedClients()
    {
        long now = Clock.StampMs();
        var clients = new List<ClientState>();
        for (int slot = 0; slot < Table.Capacity; slot++)
        {
            long tag = Volatile.Read(ref Table.Hot(slot).Tag);
            ref ColdEntry cold = ref Table.Cold(slot);
            if (!SlotTag.IsLive(tag) || !BlockWord.Protects(Volatile.Read(ref cold.Block), now))
            {
                continue;
            }

            var key = new IpKey(Volatile.Read(ref cold.KeyHigh), Volatile.Read(ref cold.KeyLow));
            ClientState state = Describe(slot, key, now);

            // Skip a slot that was given to another client while we read it.
            if (Volatile.Read(ref Table.Hot(slot).Tag) == tag)
            {
                clients.Add(state);
            }
        }

        return clients;
    }

    public override bool Unblock(in IpKey key) => LiftBlock(in key, pass: false);

    public override bool GrantPass(in IpKey key) => LiftBlock(in key, pass: true);

    /// <summary>
    /// Ends a block (never a blacklisting) and starts a fresh window. An operator's unblock needs a block to lift; a
    /// challenge pass also opens a fresh window for a client that is only rate-limited, and clears its cooldown.
    /// </summary>
    private bool LiftBlock(in IpKey client, bool pass)
    {
        IpKey key = Grouped(in client);
        NoteChange();
        int slot = Find(in key);
        if (slot < 0)
        {
            return false;
        }

        ref ColdEntry cold = ref Table.Cold(slot);
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref cold.Block);
            long now = Clock.NowMs();
            bool blocked = BlockWord.Until(block) > now;
            if (BlockWord.IsBlacklisted(block) || (!blocked && !pass))
            {
                return false; // a blacklisting is lifted by Unblacklist; an unblock needs a block
            }

            // CAS: end the block at "now" as checks read it (never ahead of the provider), so the very next
            // check sees it over. The end time stays in the word: the client's quiet time counts from it.
            if (!blocked || Interlocked.CompareExchange(ref cold.Block, BlockWord.WithUntil(block, now), block) == block)
            {
                if (pass)
                {
                    Volatile.Write(ref cold.LastAllowed, 0);   // no cooldown left to wait out
                }

                StartFreshWindow(slot);
                if (blocked)
                {
                    Raise(FloodgateEventKind.Unblocked, in key, OffenseWord.Count(Volatile.Read(ref cold.Offenses)), -1, now);
                }

                return true;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    public override bool Blacklist(in IpKey client)
    {
        IpKey key = Grouped(in client);
        NoteChange();
        long now = Clock.NowMs();
        int slot = Contended;
        for (int attempt = 0; attempt < 100 && slot == Contended; attempt++)
        {
            slot = FindOrClaim(in key, now);
        }

        if (slot == Contended)
        {
            throw new InvalidOperationException($"Cannot blacklist {key} now: its slot is being claimed by another thread. Try again.");
        }

        if (slot == NoSlot)
        {
            throw new InvalidOperationException(
                $"Cannot blacklist {key}: every slot it could use holds a blocked or blacklisted client. " +
                $"Increase FloodgateLimiterOptions.Capacity (now {Table.Capacity}) or add the address to the Denylist.");
        }

        ref ColdEntry cold = ref Table.Cold(slot);
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref cold.Block);
            if (BlockWord.IsBlacklisted(block))
            {
                return false;
            }

            // CAS: set the blacklist flag, keeping the rest of the word.
            NoteBlacklisting();
            long updated = BlockWord.Make(BlockWord.Until(block), BlockWord.Generation(block), BlockWord.IsPunished(block), blacklisted: true);
            if (Interlocked.CompareExchange(ref cold.Block, updated, block) == block)
            {
                break;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        PointChecksAtBlockState(slot);

        Metrics.Increment(MetricIndex.Blacklistings);
        Raise(FloodgateEventKind.Blacklisted, in key, OffenseWord.Count(Volatile.Read(ref cold.Offenses)), -1, now);
        return true;
    }

    public override bool BlockFor(in IpKey client, long durationMs)
    {
        IpKey key = Grouped(in client);
        NoteChange();
        long now = Clock.NowMs();
        int slot = FindOrClaim(in key, now);
        if (slot < 0)
        {
            return false;
        }

        ref ColdEntry cold = ref Table.Cold(slot);
        long until = Clock.StampMs() + durationMs;
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref cold.Block);
            if (BlockWord.IsBlacklisted(block) || BlockWord.Until(block) >= until)
            {
                break;   // already denied at least that long
            }

            // CAS: extend the block end, keeping the rest of the word.
            if (Interlocked.CompareExchange(ref cold.Block, BlockWord.WithUntil(block, until), block) == block)
            {
                break;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        PointChecksAtBlockState(slot);

        Metrics.Increment(MetricIndex.BlocksStarted);
        Raise(FloodgateEventKind.Blocked, in key, OffenseWord.Count(Volatile.Read(ref cold.Offenses)), durationMs, Clock.StampMs());
        return true;
    }

    public override bool Unblacklist(in IpKey client)
    {
        IpKey key = Grouped(in client);
        NoteChange();
        int slot = Find(in key);
        if (slot < 0)
        {
            return false;
        }

        ref ColdEntry cold = ref Table.Cold(slot);
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref cold.Block);
            if (!BlockWord.IsBlacklisted(block))
            {
                return false;
            }

            // CAS: the blacklisting counts as a punishment served now: with BlockExceedReset the block count
            // starts again at 0, without it the next violation is punished again.
            long now = Clock.NowMs();
            long updated = BlockWord.Make(now, BlockWord.Generation(block), punished: true, blacklisted: false);
            if (Interlocked.CompareExchange(ref cold.Block, updated, block) == block)
            {
                StartFreshWindow(slot);
                Raise(FloodgateEventKind.Unblacklisted, in key, EffectiveBlockCount(Volatile.Read(ref cold.Offenses), updated, now), -1, now);
                return true;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    public override bool MirrorBan(in IpKey client, long durationMs)
    {
        IpKey key = Grouped(in client);
        NoteChange();
        long now = Clock.NowMs();
        int slot = durationMs == 0 ? Find(in key) : FindOrClaim(in key, now);
        if (slot < 0)
        {
            return durationMs == 0;   // nothing held: nothing to lift
        }

        ref ColdEntry cold = ref Table.Cold(slot);
        long until = durationMs > 0 ? Clock.StampMs() + durationMs : now;
        if (durationMs < 0)
        {
            NoteBlacklisting();
        }

        while (true)
        {
            long block = Volatile.Read(ref cold.Block);
            long updated = BlockWord.Make(until, BlockWord.Generation(block), punished: false, blacklisted: durationMs < 0);

            // CAS: replace the block state, keeping the generation (the slot's identity for racing violations).
            if (Interlocked.CompareExchange(ref cold.Block, updated, block) == block)
            {
                break;
            }
        }

        if (durationMs == 0)
        {
            StartFreshWindow(slot);
        }
        else
        {
            PointChecksAtBlockState(slot);
        }

        return true;
    }

    public override bool TryGetBan(in IpKey client, out Decision decision)
    {
        int slot = Find(Grouped(in client));
        if (slot >= 0 && BanAt(Volatile.Read(ref Table.Cold(slot).Block), Clock.NowMs(), out decision))
        {
            return true;
        }

        decision = default;
        return false;
    }

    /// <summary>The denial a block word holds at <paramref name="now"/>: blacklisted, or blocked for the time left.</summary>
    private bool BanAt(long block, long now, out Decision decision)
    {
        if (BlockWord.IsBlacklisted(block))
        {
            decision = Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
            return true;
        }

        long left = BlockWord.Until(block) - now;
        decision = left > 0 ? Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, left, left) : default;
        return left > 0;
    }

    /// <summary>Sets H in the slot's window word (whatever else it holds), so checks consult the block state.</summary>
    private void PointChecksAtBlockState(int slot)
    {
        ref HotEntry hot = ref Table.Hot(slot);
        long w = Volatile.Read(ref hot.Window);
        while (!WindowWord.HasBlockState(w))
        {
            // CAS: only H changes; a concurrent count or roll makes us re-read and try again.
            long seen = Interlocked.CompareExchange(ref hot.Window, WindowWord.WithBlockState(w), w);
            w = seen == w ? WindowWord.WithBlockState(w) : seen;
        }
    }

    /// <summary>
    /// After a block is lifted the client's next request starts a new window, and checks stop consulting the
    /// block state (H cleared). A check racing with this write fails its CAS and re-reads.
    /// </summary>
    private void StartFreshWindow(int slot)
    {
        if (_p.Algorithm == FloodgateAlgorithm.SlidingWindow)
        {
            Volatile.Write(ref Table.Cold(slot).Previous, 0);   // the fresh window has no previous one
        }

        Volatile.Write(ref Table.Hot(slot).Window, 0);
    }

    /// <summary>A tracked client's window as it stands at <paramref name="now"/>: what Inspect shows, and what Peek decides on.</summary>
    private void Measure(int slot, long block, long now, out bool active, out int count, out int remaining, out long resetAfter)
    {
        ref ColdEntry cold = ref Table.Cold(slot);
        long w = Volatile.Read(ref Table.Hot(slot).Window);
        int carry = Volatile.Read(ref cold.Carry);
        long start = WindowWord.Start(w);
        int counter = CounterOf(w);
        long until = BlockWord.Until(block);
        bool blockEnded = WindowWord.HasBlockState(w) && until > start && until <= now;
        if (_p.Algorithm == FloodgateAlgorithm.TokenBucket)
        {
            ShapeMath.DescribeBucket(start, counter, now, _p.PermitLimit, _p.WindowMs, BucketCapacity, out count, out remaining, out resetAfter);
            active = count > 0;
        }
        else if (_p.Algorithm == FloodgateAlgorithm.SlidingWindow)
        {
            int previous = blockEnded || start == 0 ? 0 : PreviousCount(slot, w);
            ShapeMath.DescribeSliding(blockEnded ? 0 : start, counter, previous, now, _p.PermitLimit, _p.WindowMs, out count, out remaining, out resetAfter);
            active = resetAfter > 0;
        }
        else
        {
            active = start != 0 && now - start < _p.WindowMs && !blockEnded;
            count = active ? Math.Max(0, counter - (_p.AccumulateCap - carry)) : 0;
            remaining = active
                ? Math.Max(0, _p.PermitLimit + _p.AccumulateCap - counter)
                : _p.PermitLimit + (_p.AccumulateCap > 0 && start != 0 ? CarryFrom(counter, start, now) : 0);
            resetAfter = active ? Math.Max(0, start + _p.WindowMs - now) : 0;
        }
    }

    public override Decision Peek(in IpKey address, in IpKey client, int cost)
    {
        if (TryListDecision(in address, out Decision listed))
        {
            return listed;
        }

        int slot = Find(Grouped(in client));
        int full = _p.Algorithm == FloodgateAlgorithm.TokenBucket ? _p.Burst : _p.PermitLimit;
        if (slot < 0)
        {
            // Unknown here: a whole budget (the check, if one comes, is exact).
            return Allowed(full, _p.Algorithm == FloodgateAlgorithm.TokenBucket ? 0 : _p.WindowMs);
        }

        long now = Clock.StampMs();
        long block = Volatile.Read(ref Table.Cold(slot).Block);
        if (BanAt(block, now, out Decision banned))
        {
            return banned;
        }

        Measure(slot, block, now, out bool active, out _, out int remaining, out long resetAfter);
        if (!active && _p.Algorithm != FloodgateAlgorithm.TokenBucket)
        {
            resetAfter = _p.WindowMs;   // the next counted request opens a window
        }

        return remaining >= cost ? Allowed(remaining, resetAfter) : Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, Math.Max(1, resetAfter), resetAfter);
    }

    private ClientState Describe(int slot, IpKey key, long now)
    {
        ref ColdEntry cold = ref Table.Cold(slot);
        long block = Volatile.Read(ref cold.Block);
        long offenses = Volatile.Read(ref cold.Offenses);
        long until = BlockWord.Until(block);
        bool blacklisted = BlockWord.IsBlacklisted(block);
        bool blocked = !blacklisted && until > now;
        Measure(slot, block, now, out bool active, out int count, out int remaining, out long resetAfter);
        return new ClientState
        {
            Client = key,
            IsTracked = true,
            IsWindowActive = active,
            Count = count,
            Remaining = blocked || blacklisted ? 0 : remaining,
            ResetAfter = TimeSpan.FromMilliseconds(resetAfter),
            IsBlocked = blocked,
            IsPunished = BlockWord.IsPunished(block) && (blocked || blacklisted),
            IsBlacklisted = blacklisted,
            BlockExpiresAt = blocked ? Clock.ToUtc(until) : null,
            BlockCount = EffectiveBlockCount(offenses, block, now),
        };
    }
}
