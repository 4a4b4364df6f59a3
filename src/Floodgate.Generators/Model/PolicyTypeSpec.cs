namespace Floodgate.Generators.Model;

/// <summary>
/// A type carrying [FloodgatePolicy] attributes: where to emit (namespace, the chain of containing types with their
/// declaration keywords), its policies, and the problems found while reading them.
/// </summary>
internal sealed record PolicyTypeSpec(
    string Namespace,
    EquatableArray<TypeDeclarationSpec> Types,
    bool IsPartial,
    EquatableArray<PolicySpec> Policies,
    EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <summary>The fully qualified name of the carrying type, for references from the registry.</summary>
    public string FullName => "global::" + (Namespace.Length == 0 ? string.Empty : Namespace + ".") + string.Join(".", System.Linq.Enumerable.Select(Types, t => t.Name));
}

/// <summary>One type in the chain: its keyword (class, struct, record…) and name with type parameters.</summary>
internal sealed record TypeDeclarationSpec(string Keyword, string Name);

/// <summary>A [Floodgate("name")] usage on an endpoint.</summary>
internal sealed record PolicyUsageSpec(string Name, int Cost, LocationInfo? Location);
