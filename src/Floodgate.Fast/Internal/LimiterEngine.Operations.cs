namespace Floodgate.Internal;

/// <summary>Operator operations: inspect, list, unblock, blacklist. Not on the request path; they may allocate.</summary>
internal sealed partial class LimiterEngine<TParams>
{
    public override ClientState Inspect(in IpKey key)
    {
        long now = Clock.NowMs();
        int slot = Find(in key);
        ClientState state = slot >= 0
            ? Describe(ref Table[slot], key, now)
            : new ClientState { Client = key, Remaining = _p.PermitLimit };
        return state with { IsAllowlisted = Allowlist.Contains(in key), IsDenylisted = Denylist.Contains(in key) };
    }

    public override IReadOnlyList<ClientState> GetBlockedClients()
    {
        long now = Clock.NowMs();
        var clients = new List<ClientState>();
        for (int slot = 0; slot < Table.Capacity; slot++)
        {
            ref Entry e = ref Table[slot];
            int header = Volatile.Read(ref e.Header);
            if (SlotHeader.State(header) != SlotHeader.Live || !BlockWord.Protects(Volatile.Read(ref e.Block), now))
            {
                continue;
            }

            var key = new IpKey(Volatile.Read(ref e.KeyHigh), Volatile.Read(ref e.KeyLow));
            ClientState state = Describe(ref e, key, now);

            // Skip a slot that was reused while we read it.
            if (Volatile.Read(ref e.Header) == header)
            {
                clients.Add(state);
            }
        }

        return clients;
    }

    public override bool Unblock(in IpKey key)
    {
        int slot = Find(in key);
        if (slot < 0)
        {
            return false;
        }

        ref Entry e = ref Table[slot];
        long now = Clock.NowMs();
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref e.Block);
            if (BlockWord.IsBlacklisted(block) || BlockWord.Until(block) <= now)
            {
                return false; // not blocked; a blacklisting is lifted by Unblacklist
            }

            // CAS: end the block now. Its end time stays in the word, so the next request starts a new window.
            if (Interlocked.CompareExchange(ref e.Block, BlockWord.WithUntil(block, now), block) == block)
            {
                StartFreshWindow(ref e);
                Raise(FloodgateEventKind.Unblocked, in key, OffenseWord.Count(Volatile.Read(ref e.Offenses)), -1, now);
                return true;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    public override bool Blacklist(in IpKey key)
    {
        long now = Clock.NowMs();
        int slot = FindOrAdd(in key, EntryTable.Hash(in key), now);
        if (slot < 0)
        {
            throw new InvalidOperationException(
                $"Cannot blacklist {key}: every slot it could use holds a blocked or blacklisted client. " +
                $"Increase FloodgateLimiterOptions.Capacity (now {Table.Capacity}) or add the address to the Denylist.");
        }

        ref Entry e = ref Table[slot];
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref e.Block);
            if (BlockWord.IsBlacklisted(block))
            {
                return false;
            }

            // CAS: set the blacklist flag, keeping the rest of the word.
            long updated = BlockWord.Make(BlockWord.Until(block), BlockWord.Generation(block), BlockWord.IsPunished(block), blacklisted: true);
            if (Interlocked.CompareExchange(ref e.Block, updated, block) == block)
            {
                Metrics.Increment(MetricIndex.Blacklistings);
                Raise(FloodgateEventKind.Blacklisted, in key, OffenseWord.Count(Volatile.Read(ref e.Offenses)), -1, now);
                return true;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    public override bool Unblacklist(in IpKey key)
    {
        int slot = Find(in key);
        if (slot < 0)
        {
            return false;
        }

        ref Entry e = ref Table[slot];
        long now = Clock.NowMs();
        var spinner = default(SpinWait);
        while (true)
        {
            long block = Volatile.Read(ref e.Block);
            if (!BlockWord.IsBlacklisted(block))
            {
                return false;
            }

            // CAS: the blacklisting counts as a punishment served now: with BlockExceedReset the block count
            // starts again at 0, without it the next violation is punished again. The next request starts a new window.
            long updated = BlockWord.Make(now, BlockWord.Generation(block), punished: true, blacklisted: false);
            if (Interlocked.CompareExchange(ref e.Block, updated, block) == block)
            {
                StartFreshWindow(ref e);
                Raise(FloodgateEventKind.Unblacklisted, in key, EffectiveBlockCount(Volatile.Read(ref e.Offenses), updated, now), -1, now);
                return true;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// After a block is lifted the client's next request starts a new window. The block's end time alone says so
    /// too, unless the block was lifted in the same millisecond its window started: clearing the word covers that.
    /// A check racing with this write fails its CAS and re-reads.
    /// </summary>
    private static void StartFreshWindow(ref Entry e) => Volatile.Write(ref e.Window, 0);

    private ClientState Describe(ref Entry e, IpKey key, long now)
    {
        long w = Volatile.Read(ref e.Window);
        long block = Volatile.Read(ref e.Block);
        long offenses = Volatile.Read(ref e.Offenses);
        int carry = Volatile.Read(ref e.Carry);

        long start = WindowWord.Start(w);
        int counter = WindowWord.Counter(w);
        long until = BlockWord.Until(block);
        bool blacklisted = BlockWord.IsBlacklisted(block);
        bool blocked = !blacklisted && until > now;
        bool active = start != 0 && now - start < _p.WindowMs && !(until > start && until <= now);

        int remaining = active
            ? Math.Max(0, _p.PermitLimit + _p.AccumulateCap - counter)
            : _p.PermitLimit + (_p.AccumulateCap > 0 && start != 0 ? CarryFrom(counter, start, now) : 0);

        return new ClientState
        {
            Client = key,
            IsTracked = true,
            IsWindowActive = active,
            Count = active ? Math.Max(0, counter - (_p.AccumulateCap - carry)) : 0,
            Remaining = blocked || blacklisted ? 0 : remaining,
            ResetAfter = active ? TimeSpan.FromMilliseconds(start + _p.WindowMs - now) : TimeSpan.Zero,
            IsBlocked = blocked,
            IsPunished = BlockWord.IsPunished(block) && (blocked || blacklisted),
            IsBlacklisted = blacklisted,
            BlockExpiresAt = blocked ? Clock.ToUtc(until, now) : null,
            BlockCount = EffectiveBlockCount(offenses, block, now),
        };
    }
}
