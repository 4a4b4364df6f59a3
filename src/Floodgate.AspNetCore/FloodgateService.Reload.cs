using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Floodgate.AspNetCore;

/// <summary>
/// Configuration reload: when the configuration behind <c>FloodgateOptions</c> changes (<c>reloadOnChange</c> of
/// <c>appsettings.json</c>, or any provider that signals a reload), the options are built and validated again and the
/// change applied while requests run. Policies keep their clients' state; an invalid change is refused whole.
/// </summary>
internal sealed partial class FloodgateService
{
    private static readonly PropertyInfo[] s_policySettings = typeof(FloodgatePolicy).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanRead && p.CanWrite).OrderBy(p => p.MetadataToken).ToArray();

    private Microsoft.Extensions.Configuration.IConfiguration? _configuration;
    private bool _startedWithSection;
    private Dictionary<string, string?> _startupRedis = [];   // Floodgate:Redis as it was at startup (read then only)

    // The largest cost an endpoint asks of each policy, with that endpoint (noted by the middleware at startup).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (int Cost, string Endpoint)> _largestCosts = new(StringComparer.Ordinal);

    /// <summary>Notes that <paramref name="endpoint"/> asks <paramref name="cost"/> permits of <paramref name="policy"/>.</summary>
    internal void NoteCost(string policy, int cost, string endpoint) =>
        _largestCosts.AddOrUpdate(policy, (cost, endpoint), (_, known) => cost > known.Cost ? (cost, endpoint) : known);

    /// <summary>
    /// Listens to the options' change tokens (those <c>IOptionsMonitor</c> listens to) and rebuilds the options with the
    /// options factory, inside a try: <c>IOptionsMonitor</c> itself would throw a validation failure on the
    /// configuration's reload thread, and a bad value must never take the app down.
    /// </summary>
    private void WatchConfiguration(IServiceProvider services)
    {
        var factory = (IOptionsFactory<FloodgateOptions>?)services.GetService(typeof(IOptionsFactory<FloodgateOptions>));
        var sources = (IEnumerable<IOptionsChangeTokenSource<FloodgateOptions>>?)services.GetService(typeof(IEnumerable<IOptionsChangeTokenSource<FloodgateOptions>>));
        if (factory is null || sources is null)
        {
            return;
        }

        _configuration = (Microsoft.Extensions.Configuration.IConfiguration?)services.GetService(typeof(Microsoft.Extensions.Configuration.IConfiguration));
        _startedWithSection = _configuration?.GetSection("Floodgate").Exists() == true;
        _startupRedis = RedisSettings();
        foreach (IOptionsChangeTokenSource<FloodgateOptions> source in sources.Where(s => s.Name is null || s.Name == Microsoft.Extensions.Options.Options.DefaultName))
        {
            _reloadSubscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, () => Reload(factory)));
        }
    }

    /// <summary>Builds the options from the changed configuration and applies them; never throws (a refusal is logged).</summary>
    internal void Reload(IOptionsFactory<FloodgateOptions> factory)
    {
        // A file provider empties its data before it reads the file again: a reload that overlaps another (two writes in
        // a quarter of a second) can read no "Floodgate" section at all. Applying that would drop every configured policy
        // for a moment (fail-open), so a section that disappears is refused; remove Floodgate's settings with a restart.
        if (_startedWithSection && _configuration?.GetSection("Floodgate").Exists() == false)
        {
            AdapterLog.ReloadRefused(Logger, "the Floodgate section is gone from the configuration (a file being rewritten, or removed); the running configuration stays. To remove Floodgate's settings, restart the app.");
            return;
        }

        // Floodgate.Redis reads its section once, when the app starts: a change there is said, never silently ignored.
        Dictionary<string, string?> redis = RedisSettings();
        foreach (string setting in redis.Keys.Union(_startupRedis.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase))
        {
            string? was = _startupRedis.GetValueOrDefault(setting);
            string? configured = redis.GetValueOrDefault(setting);
            if (!string.Equals(was, configured, StringComparison.Ordinal))
            {
                // The connection string may hold a password: its values are not written out.
                bool secret = setting.Equals("Floodgate:Redis:Configuration", StringComparison.OrdinalIgnoreCase);
                AdapterLog.ReloadStartupOnly(Logger, setting, secret ? "not shown" : was ?? "unset", secret ? "not shown" : configured ?? "unset");
            }
        }

        FloodgateOptions next;
        try
        {
            next = factory.Create(Microsoft.Extensions.Options.Options.DefaultName);
        }
        catch (OptionsValidationException e)
        {
            AdapterLog.ReloadRefused(Logger, string.Join(" ", e.Failures));
            return;
        }
#pragma warning disable CA1031 // A binding failure ("Failed to convert configuration value 'ten' at 'Floodgate:...'") is a refused change, never a crash.
        catch (Exception e)
#pragma warning restore CA1031
        {
            AdapterLog.ReloadRefused(Logger, e.Message);
            return;
        }

        Apply(next);
    }

    /// <summary>Every value under <c>Floodgate:Redis</c>, by its path.</summary>
    private Dictionary<string, string?> RedisSettings() =>
        _configuration?.GetSection("Floodgate:Redis").AsEnumerable().Where(pair => pair.Value is not null)
            .ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.OrdinalIgnoreCase) ?? [];

    /// <summary>
    /// Applies reloaded options: changed policies take their new numbers over their clients' state, new ones start
    /// empty, removed ones stop; the lists, modes, global limit and responses follow. All or nothing: a change that
    /// cannot be applied is refused whole, with an error log naming the setting and its values, and the running
    /// configuration stays. Returns whether the options were applied (tests).
    /// </summary>
    internal bool Apply(FloodgateOptions next)
    {
        lock (_reloadGate)
        {
            if (_disposed)
            {
                return false;
            }

            FloodgateOptions current = _options;
            foreach ((string setting, string was, string configured) in next.KeepStartupSettings(current))
            {
                AdapterLog.ReloadStartupOnly(Logger, setting, was, configured);
            }

            // What changes, and whether it can: nothing is touched until every part is known to apply.
            var errors = new List<string>();
            var changes = new List<string>();
            var changed = new List<(string Name, FloodgatePolicy Policy, FloodgateLimiter Limiter)>();
            var added = new List<(string Name, FloodgatePolicy Policy)>();
            foreach ((string name, FloodgatePolicy policy) in next.Policies.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                bool running = _limiters.TryGetValue(name, out FloodgateLimiter? limiter);
                FloodgatePolicy? before = running ? _policies[name] : null;
                if (!running && _retired.TryGetValue(name, out var retired))
                {
                    (limiter, before) = (retired.Limiter, retired.Policy);
                }

                errors.AddRange(CostErrors(name, policy));
                if (limiter is not null && before is not null)
                {
                    List<string> diff = Differences(before, policy);
                    errors.AddRange(KeyLayoutErrors($"Floodgate:Policies:{name}", before, policy));
                    if (diff.Count > 0)
                    {
                        changed.Add((name, policy, limiter));
                    }

                    if (!running)
                    {
                        changes.Add($"policy '{name}' restored with its clients' state{(diff.Count > 0 ? " (" + string.Join(", ", diff) + ")" : string.Empty)}");
                    }
                    else if (diff.Count > 0)
                    {
                        changes.Add($"policy '{name}': {string.Join(", ", diff)}");
                    }
                }
                else
                {
                    added.Add((name, policy));
                    changes.Add($"policy '{name}' added");
                }
            }

            List<string> removed = _limiters.Keys.Where(name => !next.Policies.ContainsKey(name) && !_generated.Contains(name)).Order(StringComparer.Ordinal).ToList();
            changes.AddRange(removed.Select(name => $"policy '{name}' removed (endpoints naming it are no longer limited by it)"));

            FloodgatePolicy? globalBefore = current.GlobalLimit, globalAfter = next.GlobalLimit;
            List<string> globalDiff = globalBefore is not null && globalAfter is not null ? Differences(globalBefore, globalAfter) : [];
            if (globalBefore is not null && globalAfter is not null)
            {
                errors.AddRange(KeyLayoutErrors("Floodgate:GlobalLimit", globalBefore, globalAfter));
            }

            if (globalBefore is null != globalAfter is null)
            {
                changes.Add(globalAfter is null ? "global limit removed" : "global limit added");
            }
            else if (globalDiff.Count > 0)
            {
                changes.Add($"global limit: {string.Join(", ", globalDiff)}");
            }

            if (errors.Count > 0)
            {
                AdapterLog.ReloadRefused(Logger, string.Join(" ", errors));
                return false;
            }

            string[] allowAdded = next.Allowlist.Except(current.Allowlist).ToArray(), allowRemoved = current.Allowlist.Except(next.Allowlist).ToArray();
            string[] denyAdded = next.Denylist.Except(current.Denylist).ToArray(), denyRemoved = current.Denylist.Except(next.Denylist).ToArray();
            Describe("Allowlist", allowAdded, allowRemoved);
            Describe("Denylist", denyAdded, denyRemoved);
            Scalar("Floodgate:Mode", current.Mode, next.Mode);
            Scalar("Floodgate:DefaultPolicy", current.DefaultPolicy, next.DefaultPolicy);
            Scalar("Floodgate:GlobalConcurrencyLimit", current.GlobalConcurrencyLimit, next.GlobalConcurrencyLimit);
            Scalar("Floodgate:RateLimitHeaders", current.RateLimitHeaders, next.RateLimitHeaders);
            Scalar("Floodgate:RateLimitResetJitter", current.RateLimitResetJitter, next.RateLimitResetJitter);
            Scalar("Floodgate:Contact", current.Contact, next.Contact);

            // New policies first: making one may fail (its data directory), and then nothing has changed yet.
            var made = new List<(string Name, FloodgatePolicy Policy, FloodgateLimiter Limiter, IFloodgateRemoteLimiter? Remote)>();
            FloodgateLimiter? newGlobal = null;
            try
            {
                foreach ((string name, FloodgatePolicy policy) in added)
                {
                    (FloodgateLimiter limiter, IFloodgateRemoteLimiter? remote) = CreatePolicy(next, name, policy, options => new FloodgateLimiter(policy, options));
                    made.Add((name, policy, limiter, remote));
                }

                if (globalBefore is null && globalAfter is not null)
                {
                    newGlobal = CreateGlobal(globalAfter);
                }
            }
#pragma warning disable CA1031 // Refused and logged: the running configuration stays.
            catch (Exception e)
#pragma warning restore CA1031
            {
                foreach ((_, _, FloodgateLimiter limiter, IFloodgateRemoteLimiter? remote) in made)
                {
                    remote?.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    limiter.Dispose();
                }

                AdapterLog.ReloadRefused(Logger, e.Message);
                return false;
            }

            if (changes.Count == 0)
            {
                _options = next;   // code-set parts (OnRejected, Exempt) are the same delegates' new instances
                return false;
            }

            // Apply: each existing limiter takes its new numbers over its clients' state (checks never stop).
            foreach ((string name, FloodgatePolicy policy, FloodgateLimiter limiter) in changed)
            {
                IFloodgateRemoteLimiter? remote = _remote.GetValueOrDefault(name) ?? _retired.GetValueOrDefault(name).Remote;
                limiter.Reconfigure(_store?.LocalPolicy(policy) ?? policy);
                remote?.Reconfigure(policy);
            }

            var limiters = new Dictionary<string, FloodgateLimiter>(_limiters, StringComparer.Ordinal);
            var policies = new Dictionary<string, FloodgatePolicy>(_policies, StringComparer.Ordinal);
            var remotes = new Dictionary<string, IFloodgateRemoteLimiter>(_remote, StringComparer.Ordinal);
            foreach (string name in removed)
            {
                _retired[name] = (limiters[name], remotes.GetValueOrDefault(name), policies[name]);
                limiters.Remove(name);
                policies.Remove(name);
                remotes.Remove(name);
            }

            foreach ((string name, FloodgatePolicy policy) in next.Policies)
            {
                if (_retired.Remove(name, out var revived))
                {
                    limiters[name] = revived.Limiter;
                    if (revived.Remote is not null)
                    {
                        remotes[name] = revived.Remote;
                    }
                }

                if (limiters.ContainsKey(name))
                {
                    policies[name] = policy;
                }
            }

            // The lists: what the configuration added or removed, in every running policy (entries an operator added stay).
            foreach (FloodgateLimiter limiter in limiters.Values)
            {
                ChangeEntries(limiter.Allowlist, allowAdded, allowRemoved);
                ChangeEntries(limiter.Denylist, denyAdded, denyRemoved);
            }

            foreach ((string name, FloodgatePolicy policy, FloodgateLimiter limiter, IFloodgateRemoteLimiter? remote) in made)
            {
                limiters[name] = limiter;
                policies[name] = policy;
                if (remote is not null)
                {
                    remotes[name] = remote;
                }
            }

            _policies = policies;
            _remote = remotes;
            _limiters = limiters;
            _appWide = limiters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).ToArray();
            if (newGlobal is not null)
            {
                _global = newGlobal;
            }
            else if (globalAfter is null && _global is { } oldGlobal)
            {
                _retiredGlobals.Add(oldGlobal);
                _global = null;
            }
            else if (globalDiff.Count > 0)
            {
                _global!.Reconfigure(globalAfter!);
            }

            _options = next;
            _rejections = new FloodgateRejections(next, _problems, Challenge, Tallies);
            Changed?.Invoke();
            AdapterLog.Reloaded(Logger, string.Join("; ", changes));
            return true;

            void Describe(string list, string[] add, string[] remove)
            {
                if (add.Length > 0)
                {
                    changes.Add($"Floodgate:{list} + {string.Join(", ", add)}");
                }

                if (remove.Length > 0)
                {
                    changes.Add($"Floodgate:{list} - {string.Join(", ", remove)}");
                }
            }

            void Scalar<T>(string setting, T was, T now)
            {
                if (!EqualityComparer<T>.Default.Equals(was, now))
                {
                    changes.Add($"{setting} {Show(was)} -> {Show(now)}");
                }
            }
        }
    }

    /// <summary>The settings two policies differ in, as <c>PermitLimit 3 -> 10</c>.</summary>
    private static List<string> Differences(FloodgatePolicy before, FloodgatePolicy after) =>
        s_policySettings.Select(p => (p.Name, Was: p.GetValue(before), Now: p.GetValue(after)))
            .Where(p => !Equals(p.Was, p.Now))
            .Select(p => $"{p.Name} {Show(p.Was)} -> {Show(p.Now)}")
            .ToList();

    /// <summary>A policy whose largest request would fall below what an endpoint asks of it.</summary>
    private IEnumerable<string> CostErrors(string name, FloodgatePolicy policy)
    {
        int largest = policy.Algorithm == FloodgateAlgorithm.TokenBucket ? policy.Burst ?? policy.PermitLimit : policy.PermitLimit;
        if (_largestCosts.TryGetValue(name, out (int Cost, string Endpoint) asked) && asked.Cost > largest)
        {
            string setting = policy.Algorithm == FloodgateAlgorithm.TokenBucket && policy.Burst is not null ? "Burst" : "PermitLimit";
            yield return $"Floodgate:Policies:{name}:{setting} would be {largest}, below the {asked.Cost} permits one request of {asked.Endpoint} costs; lower that cost first, or keep {setting} at {asked.Cost} or more.";
        }
    }

    /// <summary>What a running limiter cannot change: how clients are keyed and what a slot holds.</summary>
    private static IEnumerable<string> KeyLayoutErrors(string section, FloodgatePolicy before, FloodgatePolicy after)
    {
        if (before.Algorithm != after.Algorithm)
        {
            yield return $"{section}:Algorithm cannot change while the app runs (its clients' slots hold the running shape); running {before.Algorithm}, got {after.Algorithm}. Restart to apply it.";
        }

        if (before.Ipv4PrefixLength != after.Ipv4PrefixLength)
        {
            yield return $"{section}:Ipv4PrefixLength cannot change while the app runs (clients are keyed by it); running {Show(before.Ipv4PrefixLength)}, got {Show(after.Ipv4PrefixLength)}. Restart to apply it.";
        }

        if (before.Ipv6PrefixLength != after.Ipv6PrefixLength)
        {
            yield return $"{section}:Ipv6PrefixLength cannot change while the app runs (clients are keyed by it); running {Show(before.Ipv6PrefixLength)}, got {Show(after.Ipv6PrefixLength)}. Restart to apply it.";
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "none",
        TimeSpan span when span == FloodgatePolicy.Forever => "forever",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "none",
    };

    /// <summary>Removes, then adds, configured list entries (at startup: adds them all); entries that do not parse were refused by the validator.</summary>
    private static void ChangeEntries(AccessList list, IEnumerable<string> add, IEnumerable<string> remove)
    {
        foreach (string entry in remove)
        {
            if (ListEntry.TryParse(entry, out System.Net.IPNetwork? network))
            {
                list.Remove(network.Value);
            }
        }

        foreach (string entry in add)
        {
            if (ListEntry.TryParse(entry, out System.Net.IPNetwork? network))
            {
                list.Add(network.Value);
            }
        }
    }
}
