using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Floodgate.Generators.Model;
using Floodgate.Internal;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Floodgate.Generators;

/// <summary>
/// Turns <c>[FloodgatePolicy]</c> attributes into <c>IFloodgatePolicyDefinition</c> structs with their numbers as
/// constants, plus <c>registry.AddFloodgatePolicies()</c> and a module initializer registering them in
/// <c>FloodgatePolicyRegistry.Generated</c> (which <c>AddFloodgate()</c> reads); checks <c>[Floodgate("name")]</c> usages against them.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class PolicyGenerator : IIncrementalGenerator
{
    internal const string PolicyAttribute = "Floodgate.FloodgatePolicyAttribute";
    internal const string UsageAttribute = "Floodgate.FloodgateAttribute";
    internal const string RuntimePolicyAttribute = "Floodgate.FloodgateRuntimePolicyAttribute";

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<PolicyTypeSpec> types = context.SyntaxProvider
            .ForAttributeWithMetadataName(PolicyAttribute, static (node, _) => node is TypeDeclarationSyntax, ParseType)
            .WithTrackingName(TrackingNames.PolicyTypes);

        IncrementalValueProvider<ImmutableArray<PolicyUsageSpec>> usages = context.SyntaxProvider
            .ForAttributeWithMetadataName(UsageAttribute, static (node, _) => true, ParseUsages)
            .SelectMany(static (u, _) => u)
            .Collect()
            .WithTrackingName(TrackingNames.Usages);

        IncrementalValueProvider<EquatableArray<string>> runtimeNames = context.CompilationProvider
            .Select(static (compilation, _) => new EquatableArray<string>(compilation.Assembly.GetAttributes()
                .Where(a => a.AttributeClass?.ToDisplayString() == RuntimePolicyAttribute && a.ConstructorArguments.Length == 1)
                .Select(a => a.ConstructorArguments[0].Value as string ?? string.Empty)
                .OrderBy(n => n, System.StringComparer.Ordinal)))
            .WithTrackingName(TrackingNames.RuntimeNames);

        context.RegisterSourceOutput(types, static (spc, type) =>
        {
            foreach (DiagnosticInfo diagnostic in type.Diagnostics)
            {
                spc.ReportDiagnostic(diagnostic.ToDiagnostic());
            }

            if (type.IsPartial && type.Policies.Count > 0)
            {
                string hint = type.FullName.Replace("global::", string.Empty).Replace('<', '{').Replace('>', '}');
                spc.AddSource(hint + ".FloodgatePolicies.g.cs", EmitType(type));
            }
        });

        // A module initializer registers the policies process-wide, so AddFloodgate() finds them; it needs .NET 5 or later.
        IncrementalValueProvider<bool> canInitializeModule = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName("System.Runtime.CompilerServices.ModuleInitializerAttribute") is not null);

        IncrementalValueProvider<((ImmutableArray<PolicyTypeSpec> Types, bool ModuleInitializer) Left, (ImmutableArray<PolicyUsageSpec> Usages, EquatableArray<string> Runtime) Right)> all =
            types.Collect().Combine(canInitializeModule).Combine(usages.Combine(runtimeNames));
        context.RegisterSourceOutput(all, static (spc, input) =>
            EmitAssemblyWide(spc, input.Left.Types, input.Left.ModuleInitializer, input.Right.Usages, input.Right.Runtime));
    }

    private static void EmitAssemblyWide(SourceProductionContext spc, ImmutableArray<PolicyTypeSpec> types, bool moduleInitializer, ImmutableArray<PolicyUsageSpec> usages, EquatableArray<string> runtimeNames)
    {
        var byName = new Dictionary<string, PolicySpec>(System.StringComparer.Ordinal);
        var byTypeName = new Dictionary<string, PolicySpec>(System.StringComparer.Ordinal);
        var registered = new List<(PolicyTypeSpec, PolicySpec)>();
        foreach (PolicyTypeSpec type in types.OrderBy(t => t.FullName, System.StringComparer.Ordinal))
        {
            foreach (PolicySpec policy in type.Policies.OrderBy(p => p.Name, System.StringComparer.Ordinal))
            {
                if (byName.ContainsKey(policy.Name))
                {
                    spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.DuplicateName, policy.Location?.ToLocation(), policy.Name));
                    continue;
                }

                string typeKey = type.FullName + "." + policy.TypeName;
                if (byTypeName.TryGetValue(typeKey, out PolicySpec? other))
                {
                    spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.TypeNameClash, policy.Location?.ToLocation(), other.Name, policy.Name, policy.TypeName));
                    continue;
                }

                byName.Add(policy.Name, policy);
                byTypeName.Add(typeKey, policy);
                if (type.IsPartial)
                {
                    registered.Add((type, policy));
                }
            }
        }

        // Usages are checked only in an assembly that declares its policies (with attributes, or as runtime names): one
        // that configures them all at run time gets no FLOOD004. It is a message, not an error: runtime policies and
        // generated ones mix freely, and the adapter refuses to start when an endpoint's policy is defined nowhere.
        var known = new HashSet<string>(byName.Keys.Concat(runtimeNames), System.StringComparer.Ordinal);
        foreach (PolicyUsageSpec usage in usages)
        {
            // A cost the policy can never admit: below 1 anywhere; above the largest request of a policy declared here.
            int maxCost = byName.TryGetValue(usage.Name, out PolicySpec? used)
                ? ShapeMath.LargestRequest(used.Algorithm == 2, used.PermitLimit, used.Burst > 0 ? used.Burst : used.PermitLimit)
                : int.MaxValue;
            if (usage.Cost < 1 || usage.Cost > maxCost)
            {
                string range = maxCost == int.MaxValue ? "at least 1" : $"between 1 and {maxCost} (the policy's largest request)";
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.BadCost, usage.Location?.ToLocation(), usage.Name, range, usage.Cost.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        foreach (PolicyUsageSpec usage in known.Count == 0 ? ImmutableArray<PolicyUsageSpec>.Empty : usages)
        {
            if (!known.Contains(usage.Name))
            {
                string declared = known.Count == 0 ? "none" : string.Join(", ", known.OrderBy(n => n, System.StringComparer.Ordinal).Select(n => "'" + n + "'"));
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnknownPolicy, usage.Location?.ToLocation(), usage.Name, declared));
            }
        }

        if (registered.Count > 0)
        {
            spc.AddSource("Floodgate.GeneratedFloodgatePolicies.g.cs", EmitRegistry(registered, moduleInitializer));
        }
    }

    /// <summary>Names of the pipeline steps, for incremental-generation tests.</summary>
    internal static class TrackingNames
    {
        public const string PolicyTypes = nameof(PolicyTypes);
        public const string Usages = nameof(Usages);
        public const string RuntimeNames = nameof(RuntimeNames);
    }
}
