namespace Floodgate;

/// <summary>
/// Tells the source generator that a policy of this name is configured at run time (in code or
/// <c>appsettings.json</c>), so that <c>[Floodgate("name")]</c> may refer to it.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class FloodgateRuntimePolicyAttribute : Attribute
{
    /// <summary>Declares the runtime policy <paramref name="name"/>.</summary>
    /// <param name="name">The policy's name.</param>
    public FloodgateRuntimePolicyAttribute(string name) => Name = name;

    /// <summary>Gets the policy's name.</summary>
    public string Name { get; }
}
