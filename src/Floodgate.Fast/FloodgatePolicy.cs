using System.Globalization;

namespace Floodgate;

/// <summary>
/// The rules for one limit: how many requests per window a client may make, and what happens to clients
/// that exceed it. The knob names are those of FlaskFloodgate.
/// </summary>
/// <remarks>
/// Durations are kept to the millisecond (a fraction of a millisecond is rounded up). A policy is copied
/// and validated when a limiter is built from it; changing the object afterwards has no effect on that limiter.
/// </remarks>
public sealed class FloodgatePolicy
{
    /// <summary>A duration that never ends: a <see cref="BlockExceedDuration"/> of <c>Forever</c> blacklists, a
    /// <see cref="MaxWindowDuration"/> of <c>Forever</c> keeps idle state.</summary>
    public static readonly TimeSpan Forever = TimeSpan.MaxValue;

    /// <summary>The longest finite duration a policy accepts (10 years).</summary>
    public static readonly TimeSpan MaxFiniteDuration = TimeSpan.FromMilliseconds(Internal.PolicyLimits.MaxFiniteMs);

    /// <summary>The largest value of <c>PermitLimit + GracePermits + AccumulateLimit</c> (the per-window counter has 23 bits).</summary>
    public const int MaxTotalPermits = Internal.PolicyLimits.MaxTotalPermits;

    /// <summary>Gets or sets the requests allowed per window (FlaskFloodgate <c>amount</c>). Required, greater than 0.</summary>
    public int PermitLimit { get; set; }

    /// <summary>
    /// Gets or sets the window length. Required, at least 1 ms. A window starts at the client's first
    /// request after the previous window ended.
    /// </summary>
    public TimeSpan Window { get; set; }

    /// <summary>
    /// Gets or sets how long a client that exceeds the limit is blocked.
    /// <value>The default value is <see cref="TimeSpan.Zero"/>: deny until the window ends (still one block toward <see cref="BlockLimit"/>).</value>
    /// </summary>
    public TimeSpan BlockDuration { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether every request during a block restarts the block timer.
    /// <value>The default value is <see langword="false"/>: a block runs from the request that caused it.</value>
    /// </summary>
    public bool RelativeBlock { get; set; }

    /// <summary>
    /// Gets or sets how many blocks a client may collect before it is punished with <see cref="BlockExceedDuration"/>.
    /// <value>The default value is <see langword="null"/>: never punished.</value>
    /// </summary>
    public int? BlockLimit { get; set; }

    /// <summary>
    /// Gets or sets the punishment once a client's block count passes <see cref="BlockLimit"/>: a longer block,
    /// or <see cref="Forever"/> to blacklist the client until an operator removes it.
    /// <value>The default value is <see cref="Forever"/>.</value>
    /// </summary>
    public TimeSpan BlockExceedDuration { get; set; } = Forever;

    /// <summary>
    /// Gets or sets a value indicating whether a client's block count starts again at 0 once it has served a punishment.
    /// <value>The default value is <see langword="true"/>. With <see langword="false"/>, every further violation is punished again.</value>
    /// </summary>
    public bool BlockExceedReset { get; set; } = true;

    /// <summary>
    /// Gets or sets how long the state of an idle client is kept (its carry-over, and its block count after its
    /// last violation). Must be at least <see cref="Window"/>.
    /// <value>The default value is 1 day. <see cref="Forever"/> keeps it (capacity pressure may still evict idle, unblocked clients).</value>
    /// </summary>
    public TimeSpan MaxWindowDuration { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Gets or sets a value indicating whether unused permits of a window carry over to the next one, capped at <see cref="AccumulateLimit"/>.
    /// <value>The default value is <see langword="false"/>.</value>
    /// </summary>
    public bool AccumulateRequests { get; set; }

    /// <summary>
    /// Gets or sets the most permits that can be carried over, whatever the gap between windows.
    /// <value>The default value is <see langword="null"/>: <see cref="PermitLimit"/>.</value>
    /// </summary>
    public int? AccumulateLimit { get; set; }

    /// <summary>
    /// Gets or sets the minimum time between two allowed requests of one client. A request sooner than that is
    /// denied with <see cref="DecisionReason.Cooldown"/> and counts toward no block.
    /// <value>The default value is <see cref="TimeSpan.Zero"/> (no cooldown).</value>
    /// </summary>
    public TimeSpan Cooldown { get; set; }

    /// <summary>
    /// Gets or sets extra permits per window for a client with no block on record. The first violation beyond them
    /// records a block, and grace ends until that block count is forgotten.
    /// <value>The default value is 0.</value>
    /// </summary>
    public int GracePermits { get; set; }

    /// <summary>
    /// Gets or sets the factor of adaptive blocking: the n-th block lasts <c>BlockDuration × BlockMultiplier^(n-1)</c>,
    /// capped at <see cref="MaxBlockDuration"/>. At least 1.
    /// <value>The default value is 1.0 (every block lasts <see cref="BlockDuration"/>).</value>
    /// </summary>
    public double BlockMultiplier { get; set; } = 1.0;

    /// <summary>
    /// Gets or sets the cap on adaptive block lengths. At least <see cref="BlockDuration"/>.
    /// <value>The default value is <see langword="null"/>: capped only at <see cref="MaxFiniteDuration"/>.</value>
    /// </summary>
    public TimeSpan? MaxBlockDuration { get; set; }

    /// <summary>The default <see cref="MaxClientsPerPrefix"/>.</summary>
    public const int DefaultMaxClientsPerPrefix = Internal.PolicyLimits.DefaultMaxClientsPerPrefix;

    /// <summary>
    /// Gets or sets how many clients of one network prefix (an IPv4 <c>/24</c>, an IPv6 <c>/48</c>: see
    /// <see cref="FloodgateLimiterOptions.Ipv4NetworkPrefixLength"/>) may start a window in one window's time. A client
    /// rotating through the addresses of its network therefore gets at most this many times <see cref="PermitLimit"/>
    /// per window; the client after the last is refused (rate-limited) until the next window. 0 turns the limit off.
    /// <value>The default value is <see cref="DefaultMaxClientsPerPrefix"/>.</value>
    /// </summary>
    public int MaxClientsPerPrefix { get; set; } = DefaultMaxClientsPerPrefix;

    /// <summary>
    /// Gets or sets the shape of the limit: how <see cref="PermitLimit"/> is spread over <see cref="Window"/>.
    /// <value>The default value is <see cref="FloodgateAlgorithm.FixedWindow"/>.</value>
    /// </summary>
    public FloodgateAlgorithm Algorithm { get; set; }

    /// <summary>
    /// Gets or sets how many requests a <see cref="FloodgateAlgorithm.TokenBucket"/> admits at one instant (the bucket's
    /// size); the sustained rate stays <see cref="PermitLimit"/> per <see cref="Window"/>. 1 is strict smoothing: one
    /// request per <c>Window / PermitLimit</c>. Only for the token bucket.
    /// <value>The default value is <see langword="null"/>: <see cref="PermitLimit"/>.</value>
    /// </summary>
    public int? Burst { get; set; }

    /// <summary>
    /// Gets or sets the prefix length IPv4 clients are counted by under this policy (8 to 32): 24 counts each /24 as one
    /// client, so that one endpoint can carry a per-address policy and a per-network one at once. The allow and deny
    /// lists still match each client's own address.
    /// <value>The default value is <see langword="null"/>: 32, each address.</value>
    /// </summary>
    public int? Ipv4PrefixLength { get; set; }

    /// <summary>
    /// Gets or sets the prefix length IPv6 clients are counted by under this policy (32 to 128).
    /// <value>The default value is <see langword="null"/>: the limiter's <see cref="FloodgateLimiterOptions.Ipv6PrefixLength"/> (in ASP.NET Core, <c>Floodgate:Ipv6PrefixLength</c>).</value>
    /// </summary>
    public int? Ipv6PrefixLength { get; set; }

    /// <summary>
    /// Gets or sets which answers a request counts with, when not every request should: status codes and classes
    /// separated by commas (<c>401</c>, <c>401,403</c>, <c>4xx</c>). Before the endpoint a request is only refused (when its
    /// client is listed, banned or out of counted permits); after it, a request is counted only when its answer has one of
    /// these codes (failed logins, not successful ones; a scanner's 404s). Applied by the ASP.NET Core adapter, which
    /// calls <see cref="FloodgateLimiter.Peek(System.Net.IPAddress?, int)"/> before the endpoint and Check after it.
    /// <value>The default value is <see langword="null"/>: every request counts.</value>
    /// </summary>
    public string? CountStatusCodes { get; set; }

    /// <summary>
    /// Gets or sets whether the policy's refusals are carried out (<see cref="FloodgatePolicyMode.Enforce"/>) or only counted,
    /// logged and measured (<see cref="FloodgatePolicyMode.Shadow"/>, a dry run). The engine decides the same either way; the
    /// ASP.NET Core adapter carries out the mode. <value>The default value is <see cref="FloodgatePolicyMode.Enforce"/>.</value>
    /// </summary>
    public FloodgatePolicyMode Mode { get; set; }

    /// <summary>Returns a copy of this policy.</summary>
    /// <returns>A new policy with the same settings.</returns>
    public FloodgatePolicy Clone() => (FloodgatePolicy)MemberwiseClone();

    /// <summary>Returns every problem with this policy, each naming the setting and its value; empty when valid.</summary>
    /// <param name="name">How to name the policy in messages, e.g. <c>Policies:login</c>.</param>
    /// <returns>The error messages.</returns>
    public IReadOnlyList<string> Validate(string name = nameof(FloodgatePolicy))
    {
        var errors = new List<string>();
        void Fail(string setting, object? value, string rule) =>
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{name}.{setting} {rule}; got {Format(value)}."));

        if (PermitLimit <= 0)
        {
            Fail(nameof(PermitLimit), PermitLimit, "must be greater than 0");
        }

        if (Window < TimeSpan.FromMilliseconds(1) || Window > MaxFiniteDuration)
        {
            Fail(nameof(Window), Window, "must be at least 1 ms and at most 10 years");
        }

        CheckDuration(nameof(BlockDuration), BlockDuration, allowZero: true, allowForever: false);
        CheckDuration(nameof(Cooldown), Cooldown, allowZero: true, allowForever: false);
        CheckDuration(nameof(BlockExceedDuration), BlockExceedDuration, allowZero: false, allowForever: true);
        CheckDuration(nameof(MaxWindowDuration), MaxWindowDuration, allowZero: false, allowForever: true);

        if (MaxWindowDuration != Forever && Window > TimeSpan.Zero && MaxWindowDuration < Window)
        {
            Fail(nameof(MaxWindowDuration), MaxWindowDuration, $"must be at least Window ({Format(Window)}) or Forever");
        }

        if (BlockLimit < 0)
        {
            Fail(nameof(BlockLimit), BlockLimit, "must be 0 or more, or null for no limit");
        }
        else if (BlockLimit > Internal.PolicyLimits.MaxBlockLimit)
        {
            Fail(nameof(BlockLimit), BlockLimit, $"must be below {Internal.PolicyLimits.MaxBlockLimit + 1}");
        }

        if (AccumulateLimit < 0)
        {
            Fail(nameof(AccumulateLimit), AccumulateLimit, "must be 0 or more, or null for PermitLimit");
        }

        if (GracePermits < 0)
        {
            Fail(nameof(GracePermits), GracePermits, "must be 0 or more");
        }

        long total = (long)PermitLimit + GracePermits + (AccumulateRequests ? AccumulateLimit ?? PermitLimit : 0);
        if (PermitLimit > 0 && GracePermits >= 0 && AccumulateLimit is null or >= 0 && total > MaxTotalPermits)
        {
            Fail("PermitLimit + GracePermits + AccumulateLimit", total, $"must not exceed {MaxTotalPermits}");
        }

        ValidateShape(Fail);

        if (!Enum.IsDefined(Mode))
        {
            Fail(nameof(Mode), (int)Mode, "must be Enforce or Shadow");
        }

        if (CountStatusCodes is not null && !Internal.StatusCodeSet.TryParse(CountStatusCodes, out _))
        {
            Fail(nameof(CountStatusCodes), CountStatusCodes, Internal.StatusCodeSet.Rule);
        }
        else if (CountStatusCodes is not null && Cooldown > TimeSpan.Zero)
        {
            Fail(nameof(Cooldown), Cooldown, "cannot be combined with CountStatusCodes (a cooldown is between requests, and only some are counted); remove one");
        }

        if (Ipv4PrefixLength is < 8 or > 32)
        {
            Fail(nameof(Ipv4PrefixLength), Ipv4PrefixLength, "must be between 8 and 32, or null for 32");
        }

        if (Ipv6PrefixLength is < 32 or > 128)
        {
            Fail(nameof(Ipv6PrefixLength), Ipv6PrefixLength, "must be between 32 and 128, or null for the limiter's Ipv6PrefixLength");
        }

        if (MaxClientsPerPrefix is < 0 or > Internal.PolicyLimits.MaxClientsPerPrefix)
        {
            Fail(nameof(MaxClientsPerPrefix), MaxClientsPerPrefix, $"must be between 0 (off) and {Internal.PolicyLimits.MaxClientsPerPrefix}");
        }

        if (!double.IsFinite(BlockMultiplier) || BlockMultiplier < 1.0)
        {
            Fail(nameof(BlockMultiplier), BlockMultiplier, "must be a finite number of at least 1.0");
        }

        if (MaxBlockDuration is { } maxBlock)
        {
            if (maxBlock <= TimeSpan.Zero || maxBlock > MaxFiniteDuration)
            {
                Fail(nameof(MaxBlockDuration), maxBlock, "must be greater than 0 and at most 10 years, or null");
            }
            else if (maxBlock < BlockDuration)
            {
                Fail(nameof(MaxBlockDuration), maxBlock, $"must be at least BlockDuration ({Format(BlockDuration)})");
            }
        }

        return errors;

        void CheckDuration(string setting, TimeSpan value, bool allowZero, bool allowForever)
        {
            if (allowForever && value == Forever)
            {
                return;
            }

            if (value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero) || value > MaxFiniteDuration)
            {
                string range = allowZero ? "0 or more" : "greater than 0";
                Fail(setting, value, $"must be {range} and at most 10 years{(allowForever ? ", or Forever" : string.Empty)}");
            }
        }
    }

    /// <summary>The knobs a shape does not have, and the bounds of the token bucket's arithmetic (<c>Internal.ShapeMath</c>).</summary>
    private void ValidateShape(Action<string, object?, string> fail)
    {
        if (!Enum.IsDefined(Algorithm))
        {
            fail(nameof(Algorithm), (int)Algorithm, "must be FixedWindow, SlidingWindow or TokenBucket");
            return;
        }

        if (Algorithm != FloodgateAlgorithm.TokenBucket && Burst is not null)
        {
            fail(nameof(Burst), Burst, $"applies only to Algorithm TokenBucket (this policy is {Algorithm}); remove it");
        }

        if (Algorithm != FloodgateAlgorithm.FixedWindow && AccumulateRequests)
        {
            fail(nameof(AccumulateRequests), AccumulateRequests, $"applies only to Algorithm FixedWindow: a {Algorithm} has no windows to carry permits between; remove it");
        }

        if (Algorithm != FloodgateAlgorithm.FixedWindow && AccumulateLimit is not null)
        {
            fail(nameof(AccumulateLimit), AccumulateLimit, $"applies only to Algorithm FixedWindow; remove it");
        }

        if (Algorithm == FloodgateAlgorithm.TokenBucket && Burst is { } burst)
        {
            if (burst < 1 || burst > MaxTotalPermits)
            {
                fail(nameof(Burst), burst, $"must be between 1 and {MaxTotalPermits}, or null for PermitLimit");
            }
        }

        if (Algorithm == FloodgateAlgorithm.SlidingWindow && PermitLimit > 0 && GracePermits >= 0 &&
            (long)PermitLimit + GracePermits > Internal.PolicyLimits.MaxSlidingPermits)
        {
            fail("PermitLimit + GracePermits", (long)PermitLimit + GracePermits, $"must not exceed {Internal.PolicyLimits.MaxSlidingPermits} on a SlidingWindow");
        }

        bool burstValid = Burst is null or (>= 1 and <= MaxTotalPermits);
        if (Algorithm != FloodgateAlgorithm.FixedWindow && PermitLimit > 0 && burstValid && GracePermits >= 0 &&
            Window >= TimeSpan.FromMilliseconds(1) && Window <= MaxFiniteDuration)
        {
            int permits = Algorithm == FloodgateAlgorithm.TokenBucket ? Burst ?? PermitLimit : PermitLimit;
            string setting = Algorithm == FloodgateAlgorithm.TokenBucket ? "(Burst + GracePermits + 1) × Window" : "(PermitLimit + GracePermits + 1) × Window";
            long windowMs = Internal.PolicyMath.ToMilliseconds(Window);
            if (!Internal.ShapeMath.UnitsFit((long)permits + GracePermits + 1, windowMs, PermitLimit))
            {
                fail(setting, $"({permits} + {GracePermits} + 1) × {windowMs} ms",
                    $"must stay below {Internal.ShapeMath.MaxUnits} (a {Algorithm} is counted in exact integers, in process and in Redis's Lua); use a shorter Window with a proportionally smaller PermitLimit");
            }
        }
    }

    /// <summary>Throws when <see cref="Validate"/> finds problems, listing all of them.</summary>
    /// <param name="name">How to name the policy in the message.</param>
    /// <exception cref="ArgumentException">The policy is invalid.</exception>
    public void EnsureValid(string name = nameof(FloodgatePolicy))
    {
        IReadOnlyList<string> errors = Validate(name);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate policy: " + string.Join(" ", errors), name);
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        TimeSpan t when t == Forever => "Forever",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
