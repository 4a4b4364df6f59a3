using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore;

/// <summary>
/// The app's limiters: one per named policy, runtime or generated (each persisted in its own sub-directory of the data
/// directory), their shared limiters with a store, and the global one. Built once, before the first request; disposed
/// (with a final checkpoint each) at shutdown. It builds the other parts and hands each what it owns: the challenge
/// (<see cref="Challenge"/>, its tokens, passes, counter and logs) and the rejections (<see cref="Rejections"/>);
/// the admin endpoints and the health check read the tables.
/// </summary>
internal sealed partial class FloodgateService : IDisposable, IAsyncDisposable
{
    // The running set: each replaced whole (copy on write) when configuration reloads, so a request reads one consistent
    // dictionary; a limiter object lives on across reloads (its policy changes in place, FloodgateLimiter.Reconfigure).
    private volatile Dictionary<string, FloodgateLimiter> _limiters = new(StringComparer.Ordinal);
    private volatile Dictionary<string, FloodgatePolicy> _policies = new(StringComparer.Ordinal);
    private volatile Dictionary<string, IFloodgateRemoteLimiter> _remote = new(StringComparer.Ordinal);
    private volatile (string Name, FloodgateLimiter Limiter)[] _appWide = [];
    private volatile FloodgateOptions _options;
    private volatile FloodgateLimiter? _global;
    private volatile FloodgateRejections _rejections = null!;

    // Policies removed by a reload: kept (requests may still hold them; their data directory stays locked) until
    // shutdown, and revived with their state if configuration brings them back.
    private readonly Dictionary<string, (FloodgateLimiter Limiter, IFloodgateRemoteLimiter? Remote, FloodgatePolicy Policy)> _retired = new(StringComparer.Ordinal);
    private readonly List<FloodgateLimiter> _retiredGlobals = [];
    private readonly HashSet<string> _generated = new(StringComparer.Ordinal);
    private readonly Lock _reloadGate = new();
    private bool _disposed;
    private readonly List<IDisposable> _reloadSubscriptions = [];
    private readonly TimeProvider _time;
    private readonly System.Diagnostics.Metrics.IMeterFactory? _meters;
    private readonly IHostEnvironment _environment;
    private readonly IFloodgateRemoteStore? _store;
    private readonly Microsoft.AspNetCore.Http.IProblemDetailsService? _problems;

    public FloodgateService(IOptions<FloodgateOptions> options, IHostEnvironment environment, ILoggerFactory loggers, IServiceProvider services)
    {
        _options = options.Value;
        TimeProvider time = (TimeProvider?)services.GetService(typeof(TimeProvider)) ?? TimeProvider.System;
        _time = time;
        var meters = (System.Diagnostics.Metrics.IMeterFactory?)services.GetService(typeof(System.Diagnostics.Metrics.IMeterFactory));
        _meters = meters;
        _environment = environment;
        ILogger logger = loggers.CreateLogger("Floodgate");
        Logger = logger;
        WarnIfForwardedHeadersTrustEveryone(services, logger);
        var store = (IFloodgateRemoteStore?)services.GetService(typeof(IFloodgateRemoteStore));
        _store = store;
        _problems = (Microsoft.AspNetCore.Http.IProblemDetailsService?)services.GetService(typeof(Microsoft.AspNetCore.Http.IProblemDetailsService));
        try
        {
            KeyHasher = CreateKeyHasher(Options, environment, store is not null, logger);
            var registry = (FloodgatePolicyRegistry?)services.GetService(typeof(FloodgatePolicyRegistry)) ?? FloodgatePolicyRegistry.Generated;
            foreach ((string name, FloodgatePolicy policy) in Options.Policies)
            {
                AddPolicy(name, policy, options => new FloodgateLimiter(policy, options));
            }

            foreach (string name in registry.Names.Where(name => !Options.Policies.ContainsKey(name)).Order(StringComparer.Ordinal))
            {
                // A generated policy: its limiter runs the checker compiled for it (with a shared store, the local
                // table holds a share of the limit, so it is a runtime policy there).
                registry.TryGetPolicy(name, out FloodgatePolicy? policy);
                AddPolicy(name, policy!, options => registry.CreateLimiter(name, options));
                _generated.Add(name);
            }

            void AddPolicy(string name, FloodgatePolicy policy, Func<FloodgateLimiterOptions, FloodgateLimiter> create)
            {
                (FloodgateLimiter limiter, IFloodgateRemoteLimiter? remote) = CreatePolicy(Options, name, policy, create);
                _limiters.Add(name, limiter);
                _policies.Add(name, policy);
                if (remote is not null)
                {
                    _remote.Add(name, remote);
                }
            }

            // In name order, so that which policy answers an app-wide refusal does not depend on registration order.
            _appWide = _limiters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).ToArray();

            foreach ((string name, FloodgatePolicy bound) in Options.BoundPolicies)
            {
                if (Options.Policies.TryGetValue(name, out FloodgatePolicy? used) && !ReferenceEquals(used, bound))
                {
                    AdapterLog.DefinedTwice(logger, name);   // one rule: code wins; said, not silent
                }
            }

            // The challenge grants passes in this process's tables: with a shared store it is not offered, and startup says so.
            if (Options.Challenge.Enabled && store is not null)
            {
                AdapterLog.ChallengeOffWithRedis(logger);
            }

            if (Options.Challenge.Enabled && store is null)
            {
                Challenge = new Challenge.ChallengeService(Options, _limiters.Keys, time, meters, logger);
            }

            if (Options.GlobalLimit is { } global)
            {
                _global = CreateGlobal(global);
            }

            _rejections = new FloodgateRejections(Options, _problems, Challenge, Tallies);
            WatchConfiguration(services);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Gets the clock the limiters run on.</summary>
    public TimeProvider Time => _time;

    /// <summary>Gets the refusals and shared decisions tallied per policy for the dashboard.</summary>
    public Dashboard.PolicyTallies Tallies { get; } = new();

    /// <summary>Gets the running options: those of startup, or of the last configuration reload that was applied.</summary>
    public FloodgateOptions Options => _options;

    /// <summary>Raised (on the reloading thread) after a configuration reload changed the running policies or settings.</summary>
    public event Action? Changed;

    /// <summary>Gets each policy's overflow count at the previous health check.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, long> OverflowSeen { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether a policy is a dry run: its own <see cref="FloodgatePolicy.Mode"/>, or the app's.</summary>
    public bool IsShadow(string policy) =>
        Options.Mode == FloodgatePolicyMode.Shadow || (_policies.TryGetValue(policy, out FloodgatePolicy? declared) && declared.Mode == FloodgatePolicyMode.Shadow);

    /// <summary>
    /// Gets whether requests need the app-wide step (the denylist on endpoints without a policy, blacklistings across
    /// policies): when there is a policy to hold them. Without a list entry or a blacklisting the step costs a flag read.
    /// </summary>
    public bool AppWideChecks => _appWide.Length > 0;

    /// <summary>Gets whether any policy's table may hold a blacklisted client (until the first blacklisting: a flag read per policy).</summary>
    public bool MayHoldBlacklisted
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get
        {
            (string Name, FloodgateLimiter Limiter)[] all = _appWide;
            for (int i = 0; i < all.Length; i++)
            {
                if (all[i].Limiter.MayHoldBlacklisted)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Refuses a request app-wide: a denylisted address (with <paramref name="checkLists"/>, for endpoints without a
    /// policy; the lists are the same in every policy), or an address blacklisted under any policy. Allocation-free.
    /// </summary>
    public bool TryRefuseAppWide(System.Net.IPAddress? address, bool checkLists, out Decision decision, out string policy)
    {
        (string Name, FloodgateLimiter Limiter)[] all = _appWide;
        if (checkLists)
        {
            FloodgateLimiter first = all[0].Limiter;
            IpKey own = first.GetKey(address);
            if (first.TryListDecision(in own, out decision) && decision.Reason == DecisionReason.Denylisted)
            {
                policy = all[0].Name;
                return true;
            }
        }

        for (int i = 0; i < all.Length; i++)
        {
            FloodgateLimiter limiter = all[i].Limiter;
            if (limiter.MayHoldBlacklisted)
            {
                IpKey key = limiter.GetKey(address);
                if (limiter.TryGetBan(in key, out decision) && decision.Reason == DecisionReason.Blacklisted)
                {
                    policy = all[i].Name;
                    return true;
                }
            }
        }

        decision = default;
        policy = string.Empty;
        return false;
    }

    /// <summary>Gets the hasher of the policies' keys (API keys, users); null when every policy counts addresses.</summary>
    public FloodgateKeyHasher? KeyHasher { get; }

    /// <summary>Gets the challenge service, when challenges are enabled.</summary>
    public Challenge.ChallengeService? Challenge { get; }

    /// <summary>Gets what writing a rejection needs (the rejection writer is given this, not the service).</summary>
    public FloodgateRejections Rejections => _rejections;

    public ILogger Logger { get; }

    /// <summary>Gets the global limiter: one shared budget for all requests.</summary>
    public FloodgateLimiter? Global => _global;

    /// <summary>Gets the in-process limiter of each policy (with a shared store: its local table and fallback).</summary>
    public IReadOnlyDictionary<string, FloodgateLimiter> Limiters => _limiters;

    /// <summary>Gets every policy endpoints may name, runtime and generated, as declared (with a shared store, not the local share).</summary>
    public IReadOnlyDictionary<string, FloodgatePolicy> Policies => _policies;

    /// <summary>Gets the shared limiter of each policy when a store (Redis) is configured; empty otherwise.</summary>
    public IReadOnlyDictionary<string, IFloodgateRemoteLimiter> Remote => _remote;

    public async ValueTask DisposeAsync()
    {
        StopWatching();
        foreach (IFloodgateRemoteLimiter remote in AllRemote())
        {
            await remote.DisposeAsync().ConfigureAwait(false);
        }

        _remote = new(StringComparer.Ordinal);
        _retired.Clear();
        Dispose();
    }

    public void Dispose()
    {
        StopWatching();
        foreach (IFloodgateRemoteLimiter remote in AllRemote())
        {
            remote.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _remote = new(StringComparer.Ordinal);
        foreach (FloodgateLimiter limiter in _limiters.Values.Concat(_retired.Values.Select(r => r.Limiter)).Concat(_retiredGlobals))
        {
            limiter.Dispose();
        }

        _retired.Clear();
        _retiredGlobals.Clear();
        _global?.Dispose();
    }

    private List<IFloodgateRemoteLimiter> AllRemote()
    {
        lock (_reloadGate)
        {
            return _remote.Values.Concat(_retired.Values.Select(r => r.Remote).OfType<IFloodgateRemoteLimiter>()).ToList();
        }
    }

    private void StopWatching()
    {
        lock (_reloadGate)
        {
            _disposed = true;
            foreach (IDisposable subscription in _reloadSubscriptions)
            {
                subscription.Dispose();
            }

            _reloadSubscriptions.Clear();
        }
    }

    /// <summary>
    /// One policy's limiter (persisted in its own sub-directory of the data directory) with its lists, and with a
    /// shared store its shared limiter; state changes are logged.
    /// </summary>
    private (FloodgateLimiter Limiter, IFloodgateRemoteLimiter? Remote) CreatePolicy(FloodgateOptions options, string name, FloodgatePolicy policy, Func<FloodgateLimiterOptions, FloodgateLimiter> create)
    {
        var limiterOptions = new FloodgateLimiterOptions
        {
            Capacity = options.Capacity,
            Ipv6PrefixLength = options.Ipv6PrefixLength,
            Ipv4NetworkPrefixLength = options.Ipv4NetworkPrefixLength,
            Ipv6NetworkPrefixLength = options.Ipv6NetworkPrefixLength,
            TimeProvider = _time,
            Name = name,
            MeterFactory = _meters,
            Logger = Logger,
            DataDirectory = options.Persistence ? Path.Combine(_environment.ContentRootPath, options.DataDirectory, DirectoryName(name)) : null,
            CheckpointInterval = options.CheckpointInterval,
            CheckpointTimeout = options.CheckpointTimeout,
            JournalBans = options.JournalBans,
        };
        IFloodgateRemoteStore? store = _store;
        FloodgateLimiter limiter = store is null ? create(limiterOptions) : new FloodgateLimiter(store.LocalPolicy(policy), limiterOptions);
        try
        {
            if (store is not null)
            {
                // The store's lists are the truth for shared entries: ones restored from a checkpoint may have been removed since.
                limiter.Allowlist.Clear();
                limiter.Denylist.Clear();
            }

            ChangeEntries(limiter.Allowlist, add: options.Allowlist, remove: []);
            ChangeEntries(limiter.Denylist, add: options.Denylist, remove: []);
            ILogger logger = Logger;
            if (store is not null)
            {
                // The shared store decides; the in-process limiter is its local table, and its events are the store's.
                IFloodgateRemoteLimiter remote = store.Create(name, policy, limiter);
                remote.ClientStateChanged += (_, e) => LogStateChange(logger, name, e, IsShadow(name));
                return (limiter, remote);
            }

            limiter.ClientStateChanged += (_, e) => LogStateChange(logger, name, e, IsShadow(name));
            return (limiter, null);
        }
        catch
        {
            limiter.Dispose();
            throw;
        }
    }

    private FloodgateLimiter CreateGlobal(FloodgatePolicy global) =>
        new(global, new FloodgateLimiterOptions { Capacity = 16, TimeProvider = _time, Name = "global", MeterFactory = _meters });

    private static void LogStateChange(ILogger logger, string policy, FloodgateEventArgs e, bool shadow)
    {
        if (shadow)
        {
            // A dry run: what would have happened, so that a candidate policy's effect can be read from the log.
            AdapterLog.ShadowStateChange(logger, policy, e.Client.ToString(), e.Kind, e.BlockCount, e.ExpiresAt);
            return;
        }

        if (e.Kind == FloodgateEventKind.Blacklisted)
        {
            AdapterLog.ClientBlacklisted(logger, policy, e.Client.ToString(), e.BlockCount);
        }
        else
        {
            AdapterLog.ClientBlocked(logger, policy, e.Client.ToString(), e.Kind, e.BlockCount, e.ExpiresAt);
        }
    }

    private static void WarnIfForwardedHeadersTrustEveryone(IServiceProvider services, ILogger logger)
    {
        var forwarded = (IOptions<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>?)services.GetService(typeof(IOptions<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>));
        if (forwarded?.Value is { } o && o.ForwardedHeaders != Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.None &&
            o.KnownProxies.Count == 0 && o.KnownIPNetworks.Count == 0)
        {
            AdapterLog.ForwardedHeadersTrustEveryone(logger);
        }
    }

    /// <summary>
    /// The key secret: <see cref="FloodgateOptions.KeySecret"/>; with persistence, one kept in the data directory (so that
    /// keyed state restored after a restart is found again); otherwise one for this process. With Redis it must be
    /// configured: instances that hashed differently would count one key as several clients.
    /// </summary>
    private static FloodgateKeyHasher? CreateKeyHasher(FloodgateOptions options, IHostEnvironment environment, bool shared, ILogger logger)
    {
        if (options.KeysByPolicy.Count == 0)
        {
            return null;
        }

        string keyed = string.Join(", ", options.KeysByPolicy.Select(k => $"{k.Key} ({k.Value})"));
        if (options.KeySecret is { } configured)
        {
            AdapterLog.KeySecretSource(logger, keyed, "Floodgate:KeySecret");
            return new FloodgateKeyHasher(Convert.FromBase64String(configured));
        }

        if (shared)
        {
            throw new InvalidOperationException(
                $"Floodgate:KeySecret must be set when Redis shares state and a policy is keyed by something other than the address ({keyed}): " +
                "every instance must hash keys with the same secret. Give each instance the same base64 of at least 16 random bytes (e.g. `openssl rand -base64 32`) from a secret store.");
        }

        if (!options.Persistence)
        {
            AdapterLog.KeySecretSource(logger, keyed, "a random secret of this process (no persistence: keyed state ends with it)");
            return FloodgateKeyHasher.CreateRandom();
        }

        string directory = Path.Combine(environment.ContentRootPath, options.DataDirectory);
        string path = Path.Combine(directory, "key-secret");
        AdapterLog.KeySecretSource(logger, keyed, path);
        return new FloodgateKeyHasher(ReadOrCreateSecret(directory, path));
    }

    /// <summary>The secret file's bytes, made on first use (readable by the app's user only); another process racing to make it wins or reads it.</summary>
    private static byte[] ReadOrCreateSecret(string directory, string path)
    {
        try
        {
            Directory.CreateDirectory(directory);
            if (!File.Exists(path))
            {
                string fresh = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
                var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                try
                {
                    using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, create);
                    writer.Write(fresh);
                    writer.Flush();
                    ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
                }
                catch (IOException) when (File.Exists(path))
                {
                    // Made by another process meanwhile: read theirs.
                }
            }

            string text = File.ReadAllText(path).Trim();
            return Convert.TryFromBase64String(text, new byte[text.Length], out int length) && length >= FloodgateKeyHasher.MinSecretBytes
                ? Convert.FromBase64String(text)
                : throw new InvalidOperationException($"Floodgate: the key secret file {path} is not base64 of at least {FloodgateKeyHasher.MinSecretBytes} bytes. Restore it from a backup, or delete it to start keyed clients afresh.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Floodgate: the key secret file {path} cannot be read or made: {e.Message}", e);
        }
    }

    private static string DirectoryName(string policy) =>
        string.Concat(policy.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
