using Microsoft.Extensions.Configuration;

namespace Floodgate.AspNetCore;

/// <summary>
/// The names the <c>"Floodgate"</c> section may hold, so that a misspelt one (<c>"Polices"</c>, <c>"Windw"</c>) stops the
/// app naming it and the closest known name, instead of being ignored. Lists, not reflection (trimming and Native AOT);
/// a test checks them against the options types.
/// </summary>
internal static class KnownSettings
{
    /// <summary>FloodgateOptions' settings, and the sections of the packages beside it (checked by them, not here).</summary>
    public static readonly string[] Options =
    [
        "Policies", "GlobalLimit", "GlobalConcurrencyLimit", "Mode", "DefaultPolicy", "Allowlist", "Denylist", "Capacity",
        "Ipv6PrefixLength", "Ipv4NetworkPrefixLength", "Ipv6NetworkPrefixLength", "DataDirectory", "Persistence",
        "CheckpointInterval", "RateLimitHeaders", "RateLimitResetJitter", "JournalBans", "Challenge", "Contact", "KeySecret",
        "Redis", "Outbound",
    ];

    /// <summary>FloodgatePolicy's knobs (under <c>Policies:&lt;name&gt;</c> and <c>GlobalLimit</c>).</summary>
    public static readonly string[] Policy =
    [
        "PermitLimit", "Window", "BlockDuration", "RelativeBlock", "BlockLimit", "BlockExceedDuration", "BlockExceedReset",
        "MaxWindowDuration", "AccumulateRequests", "AccumulateLimit", "Cooldown", "GracePermits", "BlockMultiplier",
        "MaxBlockDuration", "MaxClientsPerPrefix", "Algorithm", "Burst", "Ipv4PrefixLength", "Ipv6PrefixLength",
        "CountStatusCodes", "Mode",
    ];

    /// <summary>What the adapter reads beside a policy's knobs (<c>Policies:&lt;name&gt;</c> only).</summary>
    public static readonly string[] PolicyAdapter = ["Key", "Costs"];

    /// <summary>FloodgateChallengeOptions' settings.</summary>
    public static readonly string[] Challenge = ["Enabled", "Difficulty", "TokenLifetime", "MaxPassesPerHour", "Path", "Policies", "SigningKey"];

    /// <summary>FloodgateRedisOptions' settings (<c>Floodgate:Redis</c>, read by Floodgate.Redis; the adapter checks the names).</summary>
    public static readonly string[] Redis =
    [
        "Configuration", "KeyPrefix", "OutagePolicy", "LocalFallbackShare", "Timeout", "BreakerFailureThreshold", "ProbeInterval",
        "BanSyncInterval", "ForeverRetention", "LocalCapacity", "Ipv6PrefixLength", "SyncMode", "PolicySyncModes", "SyncInterval",
        "BatchedShare",
    ];

    /// <summary>FloodgateOutboundOptions' settings (<c>Floodgate:Outbound</c>, the section the docs give AddFloodgateOutbound).</summary>
    public static readonly string[] Outbound = ["DefaultPolicy", "Hosts", "Backoff", "MaxWait", "HonorRetryAfter", "MaxUpstreamBackoff", "Capacity", "Name"];

    /// <summary>Every setting under <paramref name="floodgate"/> that no options type has, each with the closest known name.</summary>
    public static IEnumerable<string> Unknown(IConfigurationSection floodgate)
    {
        foreach (IConfigurationSection setting in floodgate.GetChildren())
        {
            if (!Known(setting.Key, Options, out string? message))
            {
                yield return Describe(setting.Path, message);
                continue;
            }

            string[]? inner = setting.Key.ToUpperInvariant() switch
            {
                "GLOBALLIMIT" => Policy,
                "CHALLENGE" => Challenge,
                "REDIS" => Redis,
                "OUTBOUND" => Outbound,
                _ => null,
            };
            if (setting.Key.Equals("Outbound", StringComparison.OrdinalIgnoreCase))
            {
                // Its policies: the default one, and one per host.
                foreach (string problem in UnknownIn(setting.GetSection("DefaultPolicy"), Policy)
                    .Concat(setting.GetSection("Hosts").GetChildren().SelectMany(host => UnknownIn(host, Policy))))
                {
                    yield return problem;
                }
            }

            if (inner is not null)
            {
                foreach (string problem in UnknownIn(setting, inner))
                {
                    yield return problem;
                }
            }
            else if (setting.Key.Equals("Policies", StringComparison.OrdinalIgnoreCase))
            {
                foreach (IConfigurationSection policy in setting.GetChildren())
                {
                    foreach (string problem in UnknownIn(policy, [.. Policy, .. PolicyAdapter]))
                    {
                        yield return problem;
                    }
                }
            }
        }
    }

    private static IEnumerable<string> UnknownIn(IConfigurationSection section, string[] known) =>
        section.GetChildren().Where(s => !Known(s.Key, known, out _)).Select(s => Describe(s.Path, Closest(s.Key, known)));

    private static bool Known(string key, string[] known, out string? closest)
    {
        if (known.Contains(key, StringComparer.OrdinalIgnoreCase))
        {
            closest = null;
            return true;
        }

        closest = Closest(key, known);
        return false;
    }

    private static string Describe(string path, string? closest) =>
        closest is null ? $"{path} is not a Floodgate setting" : $"{path} is not a Floodgate setting; did you mean {closest}?";

    /// <summary>The known name nearest <paramref name="key"/> (case-insensitive edit distance at most a third of its length, and 1 at least), if any.</summary>
    private static string? Closest(string key, string[] known)
    {
        string? best = null;
        int bestDistance = Math.Max(1, key.Length / 3) + 1;
        foreach (string name in known)
        {
            int distance = Distance(key.ToUpperInvariant(), name.ToUpperInvariant());
            if (distance < bestDistance)
            {
                best = name;
                bestDistance = distance;
            }
        }

        return best;
    }

    private static int Distance(string a, string b)
    {
        int[] previous = Enumerable.Range(0, b.Length + 1).ToArray();
        int[] current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
