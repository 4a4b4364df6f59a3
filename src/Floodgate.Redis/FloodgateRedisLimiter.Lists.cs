using System.Net;
using Floodgate.Redis.Internal;
using StackExchange.Redis;

namespace Floodgate;

/// <summary>
/// The shared allow/deny lists: a Redis set per list and policy, mirrored into the local lists that checks read.
/// Entries the local lists had from elsewhere (configuration) are not the mirror's: a sync never removes them,
/// only an explicit removal through <see cref="SharedAccessList.RemoveAsync(IPNetwork)"/> does.
/// </summary>
public sealed partial class FloodgateRedisLimiter
{
    private static readonly bool[] s_lists = [false, true];   // allowlist, denylist

    private readonly Lock _listGate = new();
    private readonly HashSet<IPNetwork> _mirroredAllow = [];
    private readonly HashSet<IPNetwork> _mirroredDeny = [];

    /// <summary>Gets the allowlist shared through Redis: its entries are mirrored into every instance's <see cref="Allowlist"/>.</summary>
    public SharedAccessList SharedAllowlist { get; }

    /// <summary>Gets the denylist shared through Redis: its entries are mirrored into every instance's <see cref="Denylist"/>.</summary>
    public SharedAccessList SharedDenylist { get; }

    internal async Task<bool> ChangeListAsync(bool deny, IPNetwork network, bool add)
    {
        if (add)
        {
            AccessList.ThrowIfCoversAnAddressFamily(network, nameof(network));   // as written: 0.0.0.0/0, ::/64, 64:ff9b::/96, ...
        }

        IPNetwork canonical = LocalList(deny).CanonicalNetwork(network);
        string member = canonical.ToString();
        RedisKey key = ListKey(deny);
        ITransaction transaction = _db.CreateTransaction();
        Task<bool> changed = add ? transaction.SetAddAsync(key, member) : transaction.SetRemoveAsync(key, member);
        _ = transaction.KeyExpireAsync(key, _options.ForeverRetention);   // kept as long as a blacklisting, from the last change
        await transaction.ExecuteAsync().WaitAsync(_options.Timeout, _time).ConfigureAwait(false);
        bool result = await changed.ConfigureAwait(false);
        ApplyListChange(deny, canonical, add);
        if (result)
        {
            await PublishChangeAsync(add ? (deny ? "+d" : "+a") : (deny ? "-d" : "-a"), member).ConfigureAwait(false);
        }

        return result;
    }

    internal async Task<IReadOnlyList<IPNetwork>> ReadListAsync(bool deny)
    {
        RedisValue[] members = await _db.SetMembersAsync(ListKey(deny)).WaitAsync(_options.Timeout, _time).ConfigureAwait(false);
        var entries = new List<IPNetwork>(members.Length);
        foreach (RedisValue member in members)
        {
            if (IPNetwork.TryParse(member.ToString(), out IPNetwork network))
            {
                entries.Add(network);
            }
        }

        return entries;
    }

    /// <summary>Makes the local lists hold exactly the shared entries plus their own; false when Redis could not be read.</summary>
    internal async Task<bool> SyncListsAsync()
    {
        try
        {
            foreach (bool deny in s_lists)
            {
                IReadOnlyList<IPNetwork> shared = await ReadListAsync(deny).ConfigureAwait(false);
                var wanted = new HashSet<IPNetwork>(shared.Count);
                foreach (IPNetwork network in shared)
                {
                    wanted.Add(LocalList(deny).CanonicalNetwork(network));
                }

                lock (_listGate)
                {
                    HashSet<IPNetwork> mirrored = deny ? _mirroredDeny : _mirroredAllow;
                    foreach (IPNetwork network in mirrored.Where(n => !wanted.Contains(n)).ToList())
                    {
                        LocalList(deny).Remove(network);
                        mirrored.Remove(network);
                    }

                    foreach (IPNetwork network in wanted)
                    {
                        // Canonical already (::1 is stored as its ::/64); never an entry for a whole family.
                        if (LocalList(deny).AddCanonical(network))
                        {
                            mirrored.Add(network);
                        }
                    }
                }
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
    }

    /// <summary>A list change made here or announced by another instance.</summary>
    private void ApplyListChange(bool deny, IPNetwork canonical, bool add)
    {
        lock (_listGate)
        {
            HashSet<IPNetwork> mirrored = deny ? _mirroredDeny : _mirroredAllow;
            if (add)
            {
                if (LocalList(deny).AddCanonical(canonical))
                {
                    mirrored.Add(canonical);
                }
            }
            else
            {
                // An operator's removal: whatever put the entry here, it goes.
                LocalList(deny).Remove(canonical);
                mirrored.Remove(canonical);
            }
        }
    }

    private void OnListMessage(string operation, string member)
    {
        if (operation.Length == 2 && IPNetwork.TryParse(member, out IPNetwork network))
        {
            bool deny = operation[1] == 'd';
            ApplyListChange(deny, LocalList(deny).CanonicalNetwork(network), add: operation[0] == '+');
        }
    }

    private AccessList LocalList(bool deny) => deny ? _local.Denylist : _local.Allowlist;

    private RedisKey ListKey(bool deny) => _options.KeyPrefix + _name + (deny ? ":denylist" : ":allowlist");
}
