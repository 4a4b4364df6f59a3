namespace Floodgate;

/// <summary>
/// Named policies and how to build their limiters, filled without reflection: by code generated from
/// <see cref="FloodgatePolicyAttribute"/> (<c>registry.AddFloodgatePolicies()</c>) or by hand.
/// </summary>
public sealed class FloodgatePolicyRegistry
{
    private readonly Dictionary<string, (FloodgatePolicy Policy, Func<FloodgateLimiterOptions?, FloodgateLimiter> Create)> _policies =
        new(StringComparer.Ordinal);

    /// <summary>Gets the registered names.</summary>
    public IReadOnlyCollection<string> Names => _policies.Keys;

    /// <summary>Registers a compile-time policy: its limiters are specialised for <typeparamref name="TPolicy"/>.</summary>
    /// <typeparam name="TPolicy">The policy type.</typeparam>
    /// <returns>This registry.</returns>
    /// <exception cref="ArgumentException">A policy of that name is already registered.</exception>
    public FloodgatePolicyRegistry Add<TPolicy>()
        where TPolicy : struct, IFloodgatePolicyDefinition
    {
        _policies.Add(TPolicy.Name, (Internal.StaticPolicyParameters<TPolicy>.ToPolicy(), FloodgateLimiter.Create<TPolicy>));
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
        _policies.Add(name, (copy, options => new FloodgateLimiter(copy, options)));
        return this;
    }

    /// <summary>Gets a copy of a registered policy's settings.</summary>
    /// <param name="name">The policy's name.</param>
    /// <param name="policy">The policy, when registered.</param>
    /// <returns><see langword="true"/> when registered.</returns>
    public bool TryGetPolicy(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FloodgatePolicy? policy)
    {
        bool found = _policies.TryGetValue(name, out var entry);
        policy = found ? entry.Policy.Clone() : null;
        return found;
    }

    /// <summary>Builds a limiter for a registered policy.</summary>
    /// <param name="name">The policy's name.</param>
    /// <param name="options">The limiter options.</param>
    /// <returns>The limiter.</returns>
    /// <exception cref="KeyNotFoundException">No policy of that name is registered.</exception>
    public FloodgateLimiter CreateLimiter(string name, FloodgateLimiterOptions? options = null) =>
        _policies.TryGetValue(name, out var entry)
            ? entry.Create(options)
            : throw new KeyNotFoundException($"No Floodgate policy named '{name}' is registered; registered: {string.Join(", ", _policies.Keys)}.");
}
