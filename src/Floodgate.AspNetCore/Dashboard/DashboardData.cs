using System.Text.Json.Serialization;

namespace Floodgate.AspNetCore.Dashboard;

/// <summary>What the dashboard page draws, read from the same operations as the admin endpoints (in process or on Redis).</summary>
internal sealed record DashboardData(
    DateTimeOffset At,
    string Mode,
    string Redis,
    List<DashboardPolicy> Policies,
    DashboardGlobal? Global,
    List<DashboardClient> Top,
    List<DashboardBan> Banned,
    int BannedLeftOut,
    DashboardChallenge? Challenge)
{
    /// <summary>How many blocked or blacklisted clients the page lists at most (the admin endpoint <c>/blocked</c> lists all).</summary>
    public const int MaxBanned = 200;

    private static readonly DecisionReason[] s_reasons = Enum.GetValues<DecisionReason>();
    private static readonly string[] s_names = ["allowed", "allowlisted", "rate_limited", "cooldown", "blocked", "blacklisted", "denylisted"];

    public static async Task<DashboardData> ReadAsync(FloodgateService service, CancellationToken cancellationToken)
    {
        // Read once: a configuration reload replaces each whole.
        IReadOnlyDictionary<string, FloodgateLimiter> limiters = service.Limiters;
        IReadOnlyDictionary<string, FloodgatePolicy> declared = service.Policies;
        IReadOnlyDictionary<string, IFloodgateRemoteLimiter> remote = service.Remote;
        FloodgateOptions options = service.Options;
        DateTimeOffset now = service.Time.GetUtcNow();

        var policies = new List<DashboardPolicy>();
        var banned = new List<DashboardBan>();
        var top = new List<DashboardClient>();
        bool redisFailed = false;
        foreach ((string name, FloodgateLimiter limiter) in limiters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            FloodgatePolicy policy = declared.TryGetValue(name, out FloodgatePolicy? p) ? p : limiter.Policy;
            PolicyTally? tally = service.Tallies.Find(name);
            remote.TryGetValue(name, out IFloodgateRemoteLimiter? shared);

            // Decided on Redis: the adapter counted the answers; in process: the engine's own counters.
            var decisions = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (DecisionReason reason in s_reasons)
            {
                decisions[s_names[(int)reason]] = shared is not null ? tally?.Decisions(reason) ?? 0 : limiter.GetDecisionCount(reason);
            }

            policies.Add(new DashboardPolicy(name, service.IsShadow(name) ? "Shadow" : "Enforce", options.GetKey(name).ToString(), policy.PermitLimit,
                policy.Window.TotalSeconds, shared is not null, decisions, tally?.Refusals ?? 0));
            top.AddRange((tally?.Top(10) ?? []).Select(c => new DashboardClient(name, c.Client.ToString(), c.Refusals)));

            IReadOnlyList<ClientState> states;
            if (shared is null)
            {
                states = limiter.GetBlockedClients();
            }
            else
            {
                try
                {
                    states = await shared.GetBlockedClientsAsync(cancellationToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // Redis down: the page says so and shows the rest.
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
                {
                    redisFailed = true;
                    states = [];
                }
            }

            banned.AddRange(states.Select(s => new DashboardBan(
                name,
                s.Client.ToString(),
                s.Client.IsKeyHash ? FloodgateKeyHasher.Format(s.Client) : s.Client.ToString(),
                s.IsBlacklisted,
                s.BlockCount,
                s.IsBlacklisted || s.BlockExpiresAt is not { } end ? null : Math.Max(0, Math.Ceiling((end - now).TotalSeconds)))));
        }

        DashboardGlobal? global = null;
        if (service.Global is { } globalLimiter)
        {
            FloodgatePolicy policy = globalLimiter.Policy;
            global = new DashboardGlobal(policy.PermitLimit, policy.Window.TotalSeconds, s_reasons.ToDictionary(r => s_names[(int)r], globalLimiter.GetDecisionCount, StringComparer.Ordinal));
        }

        string redis = remote.Count == 0 ? "off" : !redisFailed && remote.Values.All(r => r.IsAvailable) ? "available" : "unavailable";
        List<DashboardBan> shown = banned.OrderBy(b => b.Blacklisted).ThenBy(b => b.SecondsLeft ?? double.MaxValue).Take(MaxBanned).ToList();
        DashboardChallenge? challenge = service.Challenge is { } c ? new DashboardChallenge(c.Counts.Issued, c.Counts.Solved, c.Counts.Refused) : null;
        // "at" is the wall clock of this reading (the page divides by it for rates); times left are on the limiters' clock.
        return new DashboardData(TimeProvider.System.GetUtcNow(), options.Mode.ToString(), redis, policies, global,
            top.OrderByDescending(t => t.Refusals).Take(10).ToList(), shown, banned.Count - shown.Count, challenge);
    }
}

/// <summary>One policy: its numbers, its decisions by outcome since the app started, and the refusals this instance answered.</summary>
internal sealed record DashboardPolicy(string Name, string Mode, string Key, int PermitLimit, double WindowSeconds, bool Shared, Dictionary<string, long> Decisions, long Refusals);

/// <summary>The global limit's numbers and decisions.</summary>
internal sealed record DashboardGlobal(int PermitLimit, double WindowSeconds, Dictionary<string, long> Decisions);

/// <summary>A client among the most refused: by address, with the policy that refused it.</summary>
internal sealed record DashboardClient(string Policy, string Client, long Refusals);

/// <summary>A blocked or blacklisted client, with its <c>id</c> for the buttons and the seconds its block has left.</summary>
internal sealed record DashboardBan(string Policy, string Client, string Id, bool Blacklisted, int BlockCount, double? SecondsLeft);

/// <summary>The challenge's counts since the app started.</summary>
internal sealed record DashboardChallenge(long Issued, long Solved, long Refused);

/// <summary>The dashboard's data, serialized by generated code (Native-AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DashboardData))]
internal sealed partial class DashboardJson : JsonSerializerContext;
