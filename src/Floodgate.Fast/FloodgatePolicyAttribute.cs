namespace Floodgate;

/// <summary>
/// Declares a named policy, compiled at build time by the Floodgate source generator into a
/// <see cref="IFloodgatePolicyDefinition"/> struct nested in the <see langword="partial"/> type that carries the
/// attribute. Durations are strings: a number and a unit (<c>500ms</c>, <c>30s</c>, <c>15m</c>, <c>2h</c>,
/// <c>7d</c>) or <c>forever</c> where the knob allows it. Mistakes are build errors (<c>FLOOD001</c>…).
/// </summary>
/// <example><code>
/// [FloodgatePolicy("login", PermitLimit = 5, Window = "1m", BlockDuration = "15m", BlockLimit = 3, BlockExceedDuration = "forever")]
/// public static partial class Policies;
/// </code></example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = true, Inherited = false)]
public sealed class FloodgatePolicyAttribute : Attribute
{
    /// <summary>Declares the policy <paramref name="name"/>.</summary>
    /// <param name="name">The policy's name, unique in the assembly, used by <c>[Floodgate("name")]</c>.</param>
    public FloodgatePolicyAttribute(string name) => Name = name;

    /// <summary>Gets the policy's name.</summary>
    public string Name { get; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.PermitLimit"/>. Required.</summary>
    public int PermitLimit { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.Window"/>, e.g. <c>"1m"</c>. Required.</summary>
    public string? Window { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.BlockDuration"/>. <value>The default value is <c>"0s"</c>.</value></summary>
    public string? BlockDuration { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.RelativeBlock"/>.</summary>
    public bool RelativeBlock { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.BlockLimit"/>. <value>The default value is -1: never punished.</value></summary>
    public int BlockLimit { get; set; } = -1;

    /// <summary>Gets or sets <see cref="FloodgatePolicy.BlockExceedDuration"/>. <value>The default value is <c>"forever"</c>.</value></summary>
    public string? BlockExceedDuration { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.BlockExceedReset"/>. <value>The default value is <see langword="true"/>.</value></summary>
    public bool BlockExceedReset { get; set; } = true;

    /// <summary>Gets or sets <see cref="FloodgatePolicy.MaxWindowDuration"/>. <value>The default value is <c>"1d"</c>.</value></summary>
    public string? MaxWindowDuration { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.AccumulateRequests"/>.</summary>
    public bool AccumulateRequests { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.AccumulateLimit"/>. <value>The default value is -1: the permit limit.</value></summary>
    public int AccumulateLimit { get; set; } = -1;

    /// <summary>Gets or sets <see cref="FloodgatePolicy.Cooldown"/>. <value>The default value is <c>"0s"</c>.</value></summary>
    public string? Cooldown { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.GracePermits"/>.</summary>
    public int GracePermits { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.BlockMultiplier"/>. <value>The default value is 1.0.</value></summary>
    public double BlockMultiplier { get; set; } = 1.0;

    /// <summary>Gets or sets <see cref="FloodgatePolicy.MaxBlockDuration"/>. <value>The default value is none.</value></summary>
    public string? MaxBlockDuration { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.MaxClientsPerPrefix"/>. <value>The default value is <see cref="FloodgatePolicy.DefaultMaxClientsPerPrefix"/>; 0 turns it off.</value></summary>
    public int MaxClientsPerPrefix { get; set; } = FloodgatePolicy.DefaultMaxClientsPerPrefix;

    /// <summary>Gets or sets <see cref="FloodgatePolicy.Algorithm"/>.</summary>
    public FloodgateAlgorithm Algorithm { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.Burst"/> (token bucket only); -1 (the default) for PermitLimit.</summary>
    public int Burst { get; set; } = -1;

    /// <summary>Gets or sets <see cref="FloodgatePolicy.CountStatusCodes"/> (<c>"401"</c>, <c>"4xx"</c>); null (the default) counts every request. A set that cannot be read is a build error (FLOOD009).</summary>
    public string? CountStatusCodes { get; set; }

    /// <summary>Gets or sets <see cref="FloodgatePolicy.Mode"/>: <see cref="FloodgatePolicyMode.Shadow"/> for a dry run. <value>The default value is <see cref="FloodgatePolicyMode.Enforce"/>.</value></summary>
    public FloodgatePolicyMode Mode { get; set; }
}
