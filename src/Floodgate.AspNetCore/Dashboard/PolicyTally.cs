using System.Collections.Concurrent;

namespace Floodgate.AspNetCore.Dashboard;

/// <summary>
/// What the dashboard shows of one policy beyond its limiter's own counters: the refusals this instance answered (an
/// exact total, and the most refused clients), and for a policy decided on Redis its decisions by outcome (the
/// engine counts only the decisions it makes itself).
/// </summary>
internal sealed class PolicyTally
{
    /// <summary>How many clients the top list follows (Space-Saving: a newcomer takes the least count's place).</summary>
    public const int Capacity = 32;

    private readonly long[] _decisions = new long[(int)DecisionReason.Denylisted + 1];
    private readonly Lock _gate = new();
    private readonly IpKey[] _clients = new IpKey[Capacity];
    private readonly long[] _counts = new long[Capacity];
    private int _used;
    private long _refusals;
    private long _untallied;

    /// <summary>Gets the refusals this instance answered under the policy.</summary>
    public long Refusals => Volatile.Read(ref _refusals);

    /// <summary>Gets the refusals left out of the top list because another refusal was being tallied at that moment.</summary>
    public long Untallied => Volatile.Read(ref _untallied);

    /// <summary>Counts a decision made on the shared store.</summary>
    public void CountDecision(DecisionReason reason) => Interlocked.Increment(ref _decisions[(int)reason]);

    /// <summary>Gets the decisions made on the shared store with <paramref name="reason"/>.</summary>
    public long Decisions(DecisionReason reason) => Volatile.Read(ref _decisions[(int)reason]);

    /// <summary>
    /// Counts a refusal of <paramref name="client"/>. Never waits: when another refusal holds the list, this one is
    /// counted in the total only (<see cref="Untallied"/>), so a flood of refusals costs each a failed try, not a queue.
    /// </summary>
    public void Refused(in IpKey client)
    {
        Interlocked.Increment(ref _refusals);
        if (!_gate.TryEnter())
        {
            Interlocked.Increment(ref _untallied);
            return;
        }

        try
        {
            int least = 0;
            for (int i = 0; i < _used; i++)
            {
                if (_clients[i] == client)
                {
                    _counts[i]++;
                    return;
                }

                if (_counts[i] < _counts[least])
                {
                    least = i;
                }
            }

            if (_used < Capacity)
            {
                _clients[_used] = client;
                _counts[_used++] = 1;
                return;
            }

            // Space-Saving: the newcomer inherits the least count plus its own refusal (an over-estimate, never an under-estimate).
            _clients[least] = client;
            _counts[least]++;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>The most refused clients, most first.</summary>
    public List<(IpKey Client, long Refusals)> Top(int count)
    {
        lock (_gate)
        {
            return Enumerable.Range(0, _used).Select(i => (_clients[i], _counts[i])).OrderByDescending(c => c.Item2).Take(count).ToList();
        }
    }
}

/// <summary>The tallies of every policy, made on first use and kept across configuration reloads.</summary>
internal sealed class PolicyTallies
{
    private readonly ConcurrentDictionary<string, PolicyTally> _byPolicy = new(StringComparer.Ordinal);
    private readonly Func<string, PolicyTally> _create = static _ => new PolicyTally();

    public PolicyTally For(string policy) => _byPolicy.GetOrAdd(policy, _create);

    public PolicyTally? Find(string policy) => _byPolicy.GetValueOrDefault(policy);
}
