using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore;

/// <summary>Checks every setting at startup (<c>ValidateOnStart</c>), reporting each bad one with its value.</summary>
internal sealed class FloodgateOptionsValidator(FloodgatePolicyRegistry generated, IConfiguration? configuration = null) : IValidateOptions<FloodgateOptions>
{
    public ValidateOptionsResult Validate(string? name, FloodgateOptions options)
    {
        var errors = new List<string>();
        foreach ((string policyName, FloodgatePolicy policy) in options.Policies)
        {
            errors.AddRange(policy.Validate($"Floodgate:Policies:{policyName}"));
            if (generated.GetSource(policyName) is { } source)
            {
                // Two definitions of one name: neither silently wins.
                string runtime = configuration?.GetSection($"Floodgate:Policies:{policyName}").Exists() == true
                    ? $"in configuration (Floodgate:Policies:{policyName})"
                    : $"in code (FloodgateOptions.AddPolicy(\"{policyName}\", ...))";
                errors.Add($"Floodgate policy '{policyName}' is defined twice: {runtime} and by {source}. Keep one.");
            }
        }

        errors.AddRange(generated.Conflicts.Select(conflict => $"Floodgate policy {conflict}. Rename one."));
        var known = new HashSet<string>(options.Policies.Keys.Concat(generated.Names), StringComparer.Ordinal);

        if (configuration?.GetSection("Floodgate") is { } section && section.Exists())
        {
            // A misspelt setting would otherwise be ignored (or reported as a different error): name it, and its closest match.
            errors.AddRange(KnownSettings.Unknown(section).Select(problem => problem + "."));
        }

        errors.AddRange(options.KeyErrors);
        foreach ((string policy, FloodgateKey key) in options.KeysByPolicy.Where(k => !known.Contains(k.Key)))
        {
            errors.Add($"Floodgate: a key ({key}) is set for policy '{policy}', which is not configured (configured: {string.Join(", ", known.Order(StringComparer.Ordinal))}).");
        }

        // Floodgate.Redis's per-policy sync modes: a misspelt policy name would leave that policy on the app's mode.
        foreach (IConfigurationSection mode in configuration?.GetSection("Floodgate:Redis:PolicySyncModes").GetChildren() ?? [])
        {
            if (!known.Any(policy => string.Equals(policy, mode.Key, StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add($"Floodgate:Redis:PolicySyncModes:{mode.Key} names no policy (configured: {string.Join(", ", known.Order(StringComparer.Ordinal))}).");
            }
        }

        foreach (string policy in options.CountPredicates.Keys.Where(p => !known.Contains(p)))
        {
            errors.Add($"Floodgate: CountWhen is set for policy '{policy}', which is not configured (configured: {string.Join(", ", known.Order(StringComparer.Ordinal))}).");
        }

        if (options.GlobalLimit?.CountStatusCodes is { } globalCodes)
        {
            errors.Add($"Floodgate:GlobalLimit.CountStatusCodes applies only to endpoint policies (the global limit is decided before any endpoint runs); remove it; got '{globalCodes}'.");
        }

        if (options.KeySecret is { } secret && (!Convert.TryFromBase64String(secret, new byte[secret.Length], out int secretBytes) || secretBytes < FloodgateKeyHasher.MinSecretBytes))
        {
            errors.Add($"Floodgate:KeySecret must be base64 of at least {FloodgateKeyHasher.MinSecretBytes} bytes (e.g. `openssl rand -base64 32`); got one that is not (its value is not shown).");
        }

        if (options.GlobalLimit is not null)
        {
            errors.AddRange(options.GlobalLimit.Validate("Floodgate:GlobalLimit"));
        }

        if (!Enum.IsDefined(options.Mode))
        {
            errors.Add($"Floodgate:Mode must be Enforce or Shadow; got '{(int)options.Mode}'.");
        }

        if (options.GlobalConcurrencyLimit <= 0)
        {
            errors.Add($"Floodgate:GlobalConcurrencyLimit must be greater than 0, or null for no cap; got {options.GlobalConcurrencyLimit}.");
        }

        if (options.DefaultPolicy is { } fallback && !known.Contains(fallback))
        {
            errors.Add($"Floodgate:DefaultPolicy names a policy that is not configured; got '{fallback}' (configured: {string.Join(", ", known.Order(StringComparer.Ordinal))}).");
        }

        errors.AddRange(new FloodgateLimiterOptions { Capacity = options.Capacity, Ipv6PrefixLength = options.Ipv6PrefixLength, Ipv4NetworkPrefixLength = options.Ipv4NetworkPrefixLength, Ipv6NetworkPrefixLength = options.Ipv6NetworkPrefixLength, CheckpointInterval = options.CheckpointInterval }
            .Validate().Select(e => e.Replace("FloodgateLimiterOptions.", "Floodgate:", StringComparison.Ordinal)));
        if (options.RateLimitResetJitter < TimeSpan.Zero || options.RateLimitResetJitter > TimeSpan.FromHours(1))
        {
            errors.Add($"Floodgate:RateLimitResetJitter must be between 0 and 1 hour; got {options.RateLimitResetJitter}.");
        }

        if (!Enum.IsDefined(options.RateLimitHeaders))
        {
            errors.Add($"Floodgate:RateLimitHeaders must be Always, OnRejection or Never; got '{(int)options.RateLimitHeaders}'.");
        }

        if (options.Persistence && string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            errors.Add($"Floodgate:DataDirectory must be a path when Persistence is on; got '{options.DataDirectory}'.");
        }

        foreach ((string list, List<string> entries) in new[] { ("Allowlist", options.Allowlist), ("Denylist", options.Denylist) })
        {
            foreach (string entry in entries)
            {
                if (!ListEntry.TryParse(entry, out IPNetwork? network))
                {
                    errors.Add($"Floodgate:{list} has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got '{entry}'.");
                }
                else if (AccessList.CoversAnAddressFamily(network.Value))
                {
                    errors.Add(list == "Allowlist"
                        ? $"Floodgate:Allowlist has an entry that covers every address of a family, so no such client would ever be limited; got '{entry}'. Use DisableFloodgate() or no policy to turn limiting off."
                        : $"Floodgate:Denylist has an entry that covers every address of a family, so every such client would be refused; got '{entry}'.");
                }
            }
        }

        FloodgateChallengeOptions challenge = options.Challenge;
        if (challenge.Difficulty is < 1 or > 30)
        {
            errors.Add($"Floodgate:Challenge:Difficulty must be between 1 and 30 (leading zero bits); got {challenge.Difficulty}.");
        }

        if (challenge.TokenLifetime < TimeSpan.FromSeconds(10) || challenge.TokenLifetime > TimeSpan.FromHours(1))
        {
            errors.Add($"Floodgate:Challenge:TokenLifetime must be between 10 seconds and 1 hour; got {challenge.TokenLifetime}.");
        }

        if (challenge.MaxPassesPerHour is < 1 or > 100)
        {
            errors.Add($"Floodgate:Challenge:MaxPassesPerHour must be between 1 and 100; got {challenge.MaxPassesPerHour}.");
        }

        if (string.IsNullOrEmpty(challenge.Path) || challenge.Path[0] != '/' || challenge.Path.AsSpan().IndexOfAny('?', '#') >= 0)
        {
            errors.Add($"Floodgate:Challenge:Path must be a path starting with '/'; got '{challenge.Path}'.");
        }

        if (challenge.SigningKey is { } signingKey && (!Convert.TryFromBase64String(signingKey, new byte[signingKey.Length], out int keyBytes) || keyBytes < 32))
        {
            errors.Add("Floodgate:Challenge:SigningKey must be base64 of at least 32 bytes (e.g. `openssl rand -base64 32`); got one that is not.");
        }

        foreach (string policy in challenge.Policies.Where(p => !known.Contains(p)))
        {
            errors.Add($"Floodgate:Challenge:Policies names a policy that is not configured; got '{policy}'.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
