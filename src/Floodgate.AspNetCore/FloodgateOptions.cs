using Microsoft.AspNetCore.Http;

namespace Floodgate;

/// <summary>
/// Floodgate in an ASP.NET Core app: named policies for endpoints, an optional global limit, lists, persistence
/// and responses. Bound from the <c>"Floodgate"</c> configuration section and/or set in code; validated at startup.
/// </summary>
public sealed class FloodgateOptions
{
    private readonly Dictionary<string, FloodgateKey> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<HttpContext, bool>> _countWhen = new(StringComparer.Ordinal);

    /// <summary>Gets the named policies endpoints refer to with <c>[Floodgate("name")]</c> or <c>.RequireFloodgate("name")</c>.</summary>
    public Dictionary<string, FloodgatePolicy> Policies { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets a limit over all requests together, checked first and rejected with 503 and no per-client work.
    /// <value>The default value is <see langword="null"/>: none.</value>
    /// </summary>
    public FloodgatePolicy? GlobalLimit { get; set; }

    /// <summary>
    /// Gets or sets the most requests the app may be processing at once; more are rejected with 503 at once, like
    /// the global limit. <value>The default value is <see langword="null"/>: no cap.</value>
    /// </summary>
    public int? GlobalConcurrencyLimit { get; set; }

    /// <summary>
    /// Gets or sets whether Floodgate carries out its refusals app-wide. <see cref="FloodgatePolicyMode.Shadow"/> is a dry run
    /// of everything: every policy as if its own <see cref="FloodgatePolicy.Mode"/> were Shadow, and the global limit, the
    /// concurrency cap, the denylist and app-wide blacklistings only logged and measured, never answered.
    /// <value>The default value is <see cref="FloodgatePolicyMode.Enforce"/>: each policy's own mode applies.</value>
    /// </summary>
    public FloodgatePolicyMode Mode { get; set; }

    /// <summary>
    /// Gets or sets the policy applied to endpoints that name none (and are not <c>[DisableFloodgate]</c>).
    /// <value>The default value is <see langword="null"/>: such endpoints are not limited.</value>
    /// </summary>
    public string? DefaultPolicy { get; set; }

    /// <summary>Gets the addresses and CIDR networks (e.g. <c>10.0.0.0/8</c>) that are never limited.</summary>
    public List<string> Allowlist { get; } = [];

    /// <summary>Gets the addresses and CIDR networks that are always denied (403).</summary>
    public List<string> Denylist { get; } = [];

    /// <summary>
    /// Gets or sets a predicate exempting a request from every per-client policy (FlaskFloodgate's
    /// <c>request_data_check</c>), for example a header carrying a known value.
    /// <value>The default value is <see langword="null"/>.</value>
    /// </summary>
    public Func<HttpContext, bool>? Exempt { get; set; }

    /// <summary>
    /// Gets or sets the client slots per policy (rounded up to a power of two; about 112 bytes each, fixed at startup).
    /// The default keeps an app's tables small: 8 policies take under 64 MiB. Raise it for a policy that must tell more
    /// clients apart at once than that; a table that overflows makes the health check Degraded.
    /// <value>The default value is 65,536.</value>
    /// </summary>
    public int Capacity { get; set; } = DefaultCapacity;

    /// <summary>The default <see cref="Capacity"/>: 65,536 slots per policy, 7 MiB each.</summary>
    public const int DefaultCapacity = 1 << 16;

    /// <summary>Gets or sets the IPv6 prefix clients are grouped by (48 to 128). <value>The default value is 64.</value></summary>
    public int Ipv6PrefixLength { get; set; } = IpKey.DefaultIpv6PrefixLength;

    /// <summary>Gets or sets the IPv4 network a client belongs to for a policy's <c>MaxClientsPerPrefix</c> (8 to 32). <value>The default value is 24.</value></summary>
    public int Ipv4NetworkPrefixLength { get; set; } = 24;

    /// <summary>Gets or sets the IPv6 network a client belongs to for a policy's <c>MaxClientsPerPrefix</c> (16 to <see cref="Ipv6PrefixLength"/>). <value>The default value is 48.</value></summary>
    public int Ipv6NetworkPrefixLength { get; set; } = 48;

    /// <summary>
    /// Gets or sets the data directory for persistence, relative to the content root; each policy keeps its state in a
    /// sub-directory. <value>The default value is <c>floodgate-data</c>.</value>
    /// </summary>
    public string DataDirectory { get; set; } = "floodgate-data";

    /// <summary>Gets or sets a value indicating whether state survives restarts. <value>The default value is <see langword="true"/>.</value></summary>
    public bool Persistence { get; set; } = true;

    /// <summary>Gets or sets how often state is checkpointed. <value>The default value is 30 seconds.</value></summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets which answers carry the <c>RateLimit-Policy</c> and <c>RateLimit</c> headers.
    /// <value>The default value is <see cref="FloodgateRateLimitHeaders.Always"/>: every answer of an endpoint with a policy.</value>
    /// </summary>
    public FloodgateRateLimitHeaders RateLimitHeaders { get; set; } = FloodgateRateLimitHeaders.Always;

    /// <summary>
    /// Gets or sets the most seconds added to the reset times a client is told: the <c>t</c> of its <c>RateLimit</c>
    /// header and the <c>Retry-After</c> of its refusals, so that clients limited together do not all come back at the
    /// same moment (the jitter draft-ietf-httpapi-ratelimit-headers recommends). Each client address gets its own fixed
    /// share of the range, so its values do not jump between answers. Whole seconds, at most an hour.
    /// <value>The default value is <see cref="TimeSpan.Zero"/>: exact reset times.</value>
    /// </summary>
    public TimeSpan RateLimitResetJitter { get; set; }

    /// <summary>Gets or sets whether bans are journaled as they happen, so a crash loses none older than about a quarter of a second (see <see cref="FloodgateLimiterOptions.JournalBans"/>). <value>The default value is <see langword="true"/>.</value></summary>
    public bool JournalBans { get; set; } = true;

    /// <summary>Gets or sets how long a checkpoint, or a ban journal commit, may take before it counts as failed (tests shorten it).</summary>
    internal TimeSpan CheckpointTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Gets the proof-of-work challenge that rejection pages offer people (off by default). <value>See <see cref="FloodgateChallengeOptions"/>.</value></summary>
    public FloodgateChallengeOptions Challenge { get; } = new();

    /// <summary>Gets or sets whom a rejected person may contact, shown in the HTML page and the problem details. <value>The default value is <see langword="null"/>.</value></summary>
    public string? Contact { get; set; }

    /// <summary>
    /// Gets or sets a hook that may replace the rejection response; it runs after the status and headers are set.
    /// Set <see cref="FloodgateRejectedContext.Handled"/> to skip Floodgate's body.
    /// </summary>
    public Func<FloodgateRejectedContext, ValueTask>? OnRejected { get; set; }

    /// <summary>
    /// Gets or sets the secret that API keys, users and other <see cref="FloodgateKey"/> values are hashed with (base64
    /// of at least 16 bytes, e.g. <c>openssl rand -base64 32</c>; keep it out of source control). Required when Redis
    /// shares state (every instance must hash alike).
    /// <value>
    /// The default value is <see langword="null"/>: with <see cref="Persistence"/> on, a random secret kept in the data
    /// directory (<c>key-secret</c>, made on first use, readable by the app's user only); otherwise a random one per process.
    /// </value>
    /// </summary>
    public string? KeySecret { get; set; }

    /// <summary>Gets the policies counted by something other than the address, with their keys (a method, not a property, elsewhere: the binder must not see it).</summary>
    internal IReadOnlyDictionary<string, FloodgateKey> KeysByPolicy => _keys;

    /// <summary>Gets the errors found reading the adapter's per-policy settings (Key, Costs) from configuration, for the validator.</summary>
    internal List<string> KeyErrors { get; } = [];

    /// <summary>Gets the policies as configuration bound them, to tell one that code then replaced (a warning at startup).</summary>
    internal Dictionary<string, FloodgatePolicy> BoundPolicies { get; } = new(StringComparer.Ordinal);

    /// <summary>Gets the costs set in configuration (<c>Floodgate:Policies:&lt;name&gt;:Costs</c>), checked against the endpoints at startup.</summary>
    internal List<AspNetCore.ConfiguredCost> ConfiguredCosts { get; } = [];

    /// <summary>Adds a named policy.</summary>
    /// <param name="name">The name endpoints use.</param>
    /// <param name="policy">The policy.</param>
    /// <returns>These options.</returns>
    public FloodgateOptions AddPolicy(string name, FloodgatePolicy policy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(policy);
        Policies[name] = policy;
        return this;
    }

    /// <summary>Adds a named policy that counts requests by <paramref name="key"/> (an API key, a user, a tenant).</summary>
    /// <param name="name">The name endpoints use.</param>
    /// <param name="policy">The policy.</param>
    /// <param name="key">Who a request counts as; a request without the key counts as its address.</param>
    /// <returns>These options.</returns>
    public FloodgateOptions AddPolicy(string name, FloodgatePolicy policy, FloodgateKey key)
    {
        AddPolicy(name, policy);
        return SetKey(name, key);
    }

    /// <summary>
    /// Sets who a policy counts requests as, for a policy defined elsewhere (in configuration, or with
    /// <c>[FloodgatePolicy]</c>); it replaces a key read from configuration.
    /// </summary>
    /// <param name="policy">The policy's name.</param>
    /// <param name="key">The key; <see cref="FloodgateKey.Address"/> for the address.</param>
    /// <returns>These options.</returns>
    public FloodgateOptions SetKey(string policy, FloodgateKey key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(policy);
        ArgumentNullException.ThrowIfNull(key);
        if (key.IsAddress)
        {
            _keys.Remove(policy);
        }
        else
        {
            _keys[policy] = key;
        }

        return this;
    }

    /// <summary>
    /// Makes a policy count only the requests <paramref name="counted"/> says, run after the endpoint on the finished
    /// request (its status, headers, items): the code form of <see cref="FloodgatePolicy.CountStatusCodes"/>, which it
    /// replaces. Before the endpoint a request is still refused when its client is listed, banned or out of permits.
    /// A request whose endpoint throws is not counted by a predicate (a status set counts it as 500).
    /// </summary>
    /// <param name="policy">The policy's name.</param>
    /// <param name="counted">Whether a finished request counts; it must not throw (an exception counts the request).</param>
    /// <returns>These options.</returns>
    public FloodgateOptions CountWhen(string policy, Func<HttpContext, bool> counted)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(policy);
        ArgumentNullException.ThrowIfNull(counted);
        _countWhen[policy] = counted;
        return this;
    }

    /// <summary>Gets the policies whose counted requests a predicate chooses.</summary>
    internal IReadOnlyDictionary<string, Func<HttpContext, bool>> CountPredicates => _countWhen;

    /// <summary>
    /// For a configuration reload: gives these (reloaded) options the running values of the settings read at startup
    /// only (table sizes, persistence, keys, costs, the challenge), and says which of them the configuration changed,
    /// as <c>(setting, running, configured)</c>; a secret's value is never shown.
    /// </summary>
    internal List<(string Setting, string Running, string Configured)> KeepStartupSettings(FloodgateOptions running)
    {
        var changed = new List<(string, string, string)>();
        Capacity = Keep("Floodgate:Capacity", running.Capacity, Capacity);
        Ipv6PrefixLength = Keep("Floodgate:Ipv6PrefixLength", running.Ipv6PrefixLength, Ipv6PrefixLength);
        Ipv4NetworkPrefixLength = Keep("Floodgate:Ipv4NetworkPrefixLength", running.Ipv4NetworkPrefixLength, Ipv4NetworkPrefixLength);
        Ipv6NetworkPrefixLength = Keep("Floodgate:Ipv6NetworkPrefixLength", running.Ipv6NetworkPrefixLength, Ipv6NetworkPrefixLength);
        DataDirectory = Keep("Floodgate:DataDirectory", running.DataDirectory, DataDirectory);
        Persistence = Keep("Floodgate:Persistence", running.Persistence, Persistence);
        CheckpointInterval = Keep("Floodgate:CheckpointInterval", running.CheckpointInterval, CheckpointInterval);
        JournalBans = Keep("Floodgate:JournalBans", running.JournalBans, JournalBans);
        CheckpointTimeout = running.CheckpointTimeout;
        if (KeySecret != running.KeySecret)
        {
            changed.Add(("Floodgate:KeySecret", "(hidden)", "(hidden)"));
            KeySecret = running.KeySecret;
        }

        FloodgateChallengeOptions challenge = Challenge, was = running.Challenge;
        challenge.Enabled = Keep("Floodgate:Challenge:Enabled", was.Enabled, challenge.Enabled);
        challenge.Difficulty = Keep("Floodgate:Challenge:Difficulty", was.Difficulty, challenge.Difficulty);
        challenge.TokenLifetime = Keep("Floodgate:Challenge:TokenLifetime", was.TokenLifetime, challenge.TokenLifetime);
        challenge.MaxPassesPerHour = Keep("Floodgate:Challenge:MaxPassesPerHour", was.MaxPassesPerHour, challenge.MaxPassesPerHour);
        challenge.Path = Keep("Floodgate:Challenge:Path", was.Path, challenge.Path);
        if (challenge.SigningKey != was.SigningKey)
        {
            changed.Add(("Floodgate:Challenge:SigningKey", "(hidden)", "(hidden)"));
            challenge.SigningKey = was.SigningKey;
        }

        if (!challenge.Policies.SequenceEqual(was.Policies))
        {
            changed.Add(("Floodgate:Challenge:Policies", string.Join(",", was.Policies), string.Join(",", challenge.Policies)));
            challenge.Policies.Clear();
            challenge.Policies.AddRange(was.Policies);
        }

        foreach (string policy in _keys.Keys.Union(running._keys.Keys).Order(StringComparer.Ordinal))
        {
            FloodgateKey before = running.GetKey(policy), after = GetKey(policy);
            if (before.ToString() != after.ToString())
            {
                changed.Add(($"Floodgate:Policies:{policy}:Key", before.ToString(), after.ToString()));
            }
        }

        _keys.Clear();
        foreach ((string policy, FloodgateKey key) in running._keys)
        {
            _keys[policy] = key;
        }

        string costs = string.Join("; ", running.ConfiguredCosts.Select(c => $"{c.Policy}: {c.Endpoint} = {c.Cost}"));
        string configuredCosts = string.Join("; ", ConfiguredCosts.Select(c => $"{c.Policy}: {c.Endpoint} = {c.Cost}"));
        if (costs != configuredCosts)
        {
            changed.Add(("Floodgate:Policies:<name>:Costs", costs, configuredCosts));
        }

        ConfiguredCosts.Clear();
        ConfiguredCosts.AddRange(running.ConfiguredCosts);
        return changed;

        T Keep<T>(string setting, T runningValue, T configured)
        {
            if (!EqualityComparer<T>.Default.Equals(runningValue, configured))
            {
                changed.Add((setting, Convert.ToString(runningValue, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, Convert.ToString(configured, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty));
            }

            return runningValue;
        }
    }

    /// <summary>Gets who a policy counts requests as.</summary>
    /// <param name="policy">The policy's name.</param>
    /// <returns>Its key; <see cref="FloodgateKey.Address"/> unless one was set.</returns>
    public FloodgateKey GetKey(string policy) => _keys.GetValueOrDefault(policy, FloodgateKey.Address);
}
