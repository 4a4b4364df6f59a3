using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Blocks: denying a blocked client (extending a relative block), recording a violation (block, punishment or
/// blacklisting), and the block count and block lengths the policy gives.
/// </summary>
internal sealed partial class LimiterEngine<TParams>
{
    private Decision DenyBlocked(ref ColdEntry cold, long block, long until, long now)
    {
        if (_p.RelativeBlock)
        {
            long length = BlockWord.IsPunished(block)
                ? _p.BlockExceedMs
                : BlockLength(OffenseWord.Count(Volatile.Read(ref cold.Offenses)));
            long extended = Clock.StampMs() + length;

            // CAS: restart the block timer. Losing to another request of this client is fine: it extended it as far.
            if (extended > until && Interlocked.CompareExchange(ref cold.Block, BlockWord.WithUntil(block, extended), block) == block)
            {
                until = extended;
            }
        }

        return Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, until - now, until - now);
    }

    /// <summary>
    /// Records a violation: the block count rises (after forgetting and resets), and the client is blocked,
    /// punished or blacklisted. The triggering request is denied with that block's decision; with no block, it is
    /// refused until <paramref name="retryAt"/> (the shape's next permit), and the client counts as offending until
    /// <paramref name="quietAt"/> (a window's end; the token bucket's next permit).
    /// </summary>
    private Decision Violation(ref ColdEntry cold, in IpKey key, long quietAt, long retryAt, long resetAt)
    {
        long stamp = Clock.StampMs();   // the block's start, stored: read from the provider
        long block = Volatile.Read(ref cold.Block);
        long offenses = Volatile.Read(ref cold.Offenses);
        int count = 0;
        bool punish = false;
        long length = 0;   // -1: blacklist; 0: deny until the window ends; above 0: block this long
        for (int attempt = 0; ; attempt++)
        {
            count = Math.Min(EffectiveBlockCount(offenses, block, stamp) + 1, OffenseWord.MaxCount);
            punish = _p.BlockLimit >= 0 && count > _p.BlockLimit;
            length = punish ? _p.BlockExceedMs : BlockLength(count);
            long quietFrom = length < 0 ? stamp : (length == 0 ? quietAt : stamp + length);

            // CAS with the generation in the word: fails if the slot was handed to another client meanwhile.
            long seen = Interlocked.CompareExchange(ref cold.Offenses, OffenseWord.Make(quietFrom, count, offenses), offenses);
            if (seen == offenses)
            {
                break;
            }

            if (OffenseWord.Generation(seen) != OffenseWord.Generation(offenses) || attempt >= MaxCasAttempts)
            {
                return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, Math.Max(1, retryAt - stamp), Math.Max(1, resetAt - stamp));
            }

            offenses = seen;
        }

        if (length != 0)
        {
            if (length < 0)
            {
                NoteBlacklisting();
            }

            for (int attempt = 0; ; attempt++)
            {
                long updated = length < 0
                    ? BlockWord.Make(BlockWord.Until(block), BlockWord.Generation(block), punished: false, blacklisted: true)
                    : BlockWord.Make(stamp + length, BlockWord.Generation(block), punish, blacklisted: false);

                // CAS with the generation in the word, as above; an operator's change in between is re-read.
                long seen = Interlocked.CompareExchange(ref cold.Block, updated, block);
                if (seen == block)
                {
                    break;
                }

                if (BlockWord.Generation(seen) != BlockWord.Generation(block) || attempt >= MaxCasAttempts)
                {
                    return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, Math.Max(1, retryAt - stamp), Math.Max(1, resetAt - stamp));
                }

                if (BlockWord.IsBlacklisted(seen))
                {
                    return Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
                }

                block = seen;
            }
        }

        // Events and counters after the state changed, outside the CAS loops.
        if (length < 0)
        {
            Metrics.Increment(MetricIndex.Blacklistings);
            Raise(FloodgateEventKind.Blacklisted, in key, count, -1, stamp);
            return Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
        }

        if (punish)
        {
            Metrics.Increment(MetricIndex.Punishments);
            Raise(FloodgateEventKind.Punished, in key, count, length, stamp);
            return Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, length, length);
        }

        Metrics.Increment(MetricIndex.BlocksStarted);
        long untilRetry = Math.Max(1, retryAt - stamp);   // a denial is never "retry after 0"; the next permit comes within a millisecond
        if (length == 0)
        {
            Raise(FloodgateEventKind.Blocked, in key, count, untilRetry, stamp);
            return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, untilRetry, Math.Max(untilRetry, resetAt - stamp));
        }

        Raise(FloodgateEventKind.Blocked, in key, count, length, stamp);
        return Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, length, length);
    }

    /// <summary>
    /// The block count that applies now: 0 once a served punishment resets it (BlockExceedReset), or after
    /// MaxWindowDuration without violations, counted from the end of the last block.
    /// </summary>
    private int EffectiveBlockCount(long offenses, long block, long now)
    {
        int count = OffenseWord.Count(offenses);
        if (count == 0 || BlockWord.IsBlacklisted(block))
        {
            return count;
        }

        long until = BlockWord.Until(block);
        if (until > now)
        {
            return count;
        }

        if (_p.BlockExceedReset && BlockWord.IsPunished(block))
        {
            return 0;
        }

        if (_p.MaxWindowMs >= 0 && now - Math.Max(OffenseWord.QuietFromMs(offenses), until) >= _p.MaxWindowMs)
        {
            return 0;
        }

        return count;
    }

    /// <summary>The length of the n-th block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long BlockLength(int n) =>
        _p.AdaptiveBlocks && n > 1 ? BlockLengths[Math.Min(n, PolicyMath.BlockLengthSteps) - 1] : _p.BlockDurationMs;
}
