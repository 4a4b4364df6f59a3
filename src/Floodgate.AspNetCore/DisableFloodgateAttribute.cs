namespace Floodgate;

/// <summary>Exempts an endpoint (controller, action, handler) from every per-client Floodgate policy, the default policy included.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableFloodgateAttribute : Attribute
{
}
