using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;

namespace Floodgate;

/// <summary>
/// Named policies and how to build their limiters, filled without reflection: by code generated from
/// <see cref="FloodgatePolicyAttribute"/> (<c>registry.AddFloodgatePolicies()</c>) or by hand. Safe to use from
/// several threads; nothing here is on the request path.
/// </summary>
public sealed class FloodgatePolicyRegistry
{
    private readonly Dictionary<string, Entry> _policies = new(StringComparer.Ordinal);
    private readonly List<string> _conflicts = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// Gets the process-wide registry that the source generator fills: every assembly with <c>[FloodgatePolicy]</c>
    /// attributes registers its policies here when it is loaded (a module initializer), so that
    /// <c>AddFloodgate()</c> picks them up with their precompiled checkers and no other call.
    /// </summary>
    public static FloodgatePolicyRegistry Generated { get; } = new();

    /// <summary>Gets the registered names (a snapshot).</summary>
    public IReadOnlyCollection<string> Names
    {
        get
        {
            lock (_lock)
            {
                return [.. _policies.Keys];
            }
        }
    }

    /// <summary>
    /// Gets the names that were registered more than once through <see cref="AddGenerated{TPolicy}"/>, each with
    /// both places (a snapshot). <c>AddFloodgate()</c> refuses to start while there is one.
    /// </summary>
    public IReadOnlyList<string> Conflicts
    {
        get
        {
            lock (_lock)
            {
                return [.. _conflicts];
            }
        }
    }

    /// <summary>
    /// Registers a generated policy in <see cref="Generated"/>; called by generated code when its assembly loads.
    /// A name registered already is recorded in <see cref="Conflicts"/> instead of throwing (an exception there
    /// would surface as a type load failure far from its cause).
    /// </summary>
    /// <typeparam name="TPolicy">The generated policy type.</typeparam>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void AddGenerated<TPolicy>()
        where TPolicy : struct, IFloodgatePolicyDefinition
    {
        FloodgatePolicyRegistry registry = Generated;
        lock (registry._lock)
        {
            string source = SourceOf<TPolicy>();
            if (registry._policies.TryGetValue(TPolicy.Name, out Entry existing))
            {
                if (existing.Source != source)
                {
                    registry._conflicts.Add($"'{TPolicy.Name}' is declared by {existing.Source} and by {source}");
                }

                return;
            }

            registry._policies.Add(TPolicy.Name, Entry.For<TPolicy>(source));
        }
    }

    /// <summary>Registers a compile-time policy: its limiters are specialised for <typeparamref name="TPolicy"/>.</summary>
    /// <typeparam name="TPolicy">The policy type.</typeparam>
    /// <returns>This registry.</returns>
    /// <exception cref="ArgumentException">A policy of that name is already registered.</exception>
    public FloodgatePolicyRegistry Add<TPolicy>()
        where TPolicy : struct, IFloodgatePolicyDefinition
    {
        lock (_lock)
        {
            _policies.Add(TPolicy.Name, Entry.For<TPolicy>(SourceOf<TPolicy>()));
        }

        return this;
    }

    /// <summary>Registers a runtime policy.</summary>
    /// <param name="name">The policy's name.</param>
    /// <param name="policy">The policy (copied).</param>
    /// <returns>This registry.</returns>
    /// <exception cref="ArgumentException">A policy of that name is already registered.</exception>
    public FloodgatePolicyRegistry Add(string name, FloodgatePolicy policy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(policy);
        FloodgatePolicy copy = policy.Clone();
        lock (_lock)
        {
            _policies.Add(name, new Entry(copy, options => new FloodgateLimiter(copy, options), "code (FloodgatePolicyRegistry.Add)", Precompiled: false));
        }

        return this;
    }

    /// <summary>Gets a copy of a registered policy's settings.</summary>
    /// <param name="name">The policy's name.</param>
    /// <param name="policy">The policy, when registered.</param>
    /// <returns><see langword="true"/> when registered.</returns>
    public bool TryGetPolicy(string name, [NotNullWhen(true)] out FloodgatePolicy? policy)
    {
        bool found = TryGet(name, out Entry entry);
        policy = found ? entry.Policy.Clone() : null;
        return found;
    }

    /// <summary>Gets where a registered policy is declared, for messages: e.g. <c>[FloodgatePolicy] on MyApp.Policies.ReportsPolicy (MyApp)</c>.</summary>
    /// <param name="name">The policy's name.</param>
    /// <returns>The place, or <see langword="null"/> when no policy of that name is registered.</returns>
    public string? GetSource(string name) => TryGet(name, out Entry entry) ? entry.Source : null;

    /// <summary>Gets whether a registered policy is checked by a checker compiled for it (a generated policy) rather than by the runtime one.</summary>
    /// <param name="name">The policy's name.</param>
    /// <returns><see langword="true"/> when the policy is registered and precompiled.</returns>
    public bool IsPrecompiled(string name) => TryGet(name, out Entry entry) && entry.Precompiled;

    /// <summary>Builds a limiter for a registered policy.</summary>
    /// <param name="name">The policy's name.</param>
    /// <param name="options">The limiter options.</param>
    /// <returns>The limiter.</returns>
    /// <exception cref="KeyNotFoundException">No policy of that name is registered.</exception>
    public FloodgateLimiter CreateLimiter(string name, FloodgateLimiterOptions? options = null) =>
        TryGet(name, out Entry entry)
            ? entry.Create(options)
            : throw new KeyNotFoundException($"No Floodgate policy named '{name}' is registered; registered: {string.Join(", ", Names)}.");

    private bool TryGet(string name, out Entry entry)
    {
        lock (_lock)
        {
            return _policies.TryGetValue(name, out entry);
        }
    }

    private static string SourceOf<TPolicy>() =>
        $"[FloodgatePolicy] on {typeof(TPolicy).FullName?.Replace('+', '.')} ({typeof(TPolicy).Assembly.GetName().Name})";

    private readonly record struct Entry(FloodgatePolicy Policy, Func<FloodgateLimiterOptions?, FloodgateLimiter> Create, string Source, bool Precompiled)
    {
        public static Entry For<TPolicy>(string source)
            where TPolicy : struct, IFloodgatePolicyDefinition =>
            new(Internal.StaticPolicyParameters<TPolicy>.ToPolicy(), FloodgateLimiter.Create<TPolicy>, source, Precompiled: true);
    }
}
