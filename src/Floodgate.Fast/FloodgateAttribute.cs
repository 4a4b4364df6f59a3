namespace Floodgate;

/// <summary>
/// Applies a named policy to an endpoint: an MVC controller or action, or a minimal API handler. Several may be
/// applied; all apply. With the source generator, a name that the assembly neither declares with
/// <see cref="FloodgatePolicyAttribute"/> nor lists with <see cref="FloodgateRuntimePolicyAttribute"/> is a build
/// error (<c>FLOOD004</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = true)]
public sealed class FloodgateAttribute : Attribute
{
    /// <summary>Applies the policy <paramref name="policyName"/>.</summary>
    /// <param name="policyName">The policy's name.</param>
    public FloodgateAttribute(string policyName) => PolicyName = policyName;

    /// <summary>Gets the policy's name.</summary>
    public string PolicyName { get; }

    /// <summary>
    /// Gets or sets how many permits of the policy one request to the endpoint costs: all of them or none (an export
    /// that counts as five searches). From 1 to the policy's <see cref="FloodgatePolicy.PermitLimit"/> (a token
    /// bucket's <see cref="FloodgatePolicy.Burst"/>), checked at build time for a generated policy and at startup.
    /// <value>The default value is 1.</value>
    /// </summary>
    public int Cost { get; set; } = 1;
}
