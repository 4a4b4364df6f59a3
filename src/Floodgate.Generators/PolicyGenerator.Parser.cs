using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using Floodgate.Generators.Model;
using Floodgate.Internal;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Floodgate.Generators;

/// <summary>Reading [FloodgatePolicy] and [Floodgate] attributes into plain models, with every check the core makes.</summary>
public sealed partial class PolicyGenerator
{
    // The core's limits (FloodgatePolicy): 10 years, the 23-bit window counter, the 12-bit block count.
    // The limits' one home is the engine's PolicyLimits (compiled here too).
    private const long MaxFiniteMs = PolicyLimits.MaxFiniteMs;
    private const long MaxTotalPermits = PolicyLimits.MaxTotalPermits;
    private const int MaxBlockLimit = PolicyLimits.MaxBlockLimit;
    private const int DefaultMaxClientsPerPrefix = PolicyLimits.DefaultMaxClientsPerPrefix;
    private const int MaxClientsPerPrefixLimit = PolicyLimits.MaxClientsPerPrefix;

    internal static PolicyTypeSpec ParseType(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var declaration = (TypeDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();

        // The type and every type containing it must be partial for the generated members to join them.
        var chain = new List<TypeDeclarationSpec>();
        bool partial = true;
        for (SyntaxNode? node = declaration; node is TypeDeclarationSyntax t; node = node.Parent)
        {
            partial &= t.Modifiers.Any(SyntaxKind.PartialKeyword);
            chain.Insert(0, new TypeDeclarationSpec(Keyword(t), t.Identifier.ValueText + (t.TypeParameterList?.ToString() ?? string.Empty)));
        }

        if (!partial)
        {
            diagnostics.Add(Info(DiagnosticDescriptors.NotPartial, declaration.Identifier.GetLocation(), type.Name));
        }

        var policies = new List<PolicySpec>();
        foreach (AttributeData attribute in context.Attributes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            PolicySpec? policy = ParsePolicy(attribute, diagnostics, cancellationToken);
            if (policy is not null)
            {
                policies.Add(policy);
            }
        }

        string ns = type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString();
        return new PolicyTypeSpec(ns, new EquatableArray<TypeDeclarationSpec>(chain), partial, new EquatableArray<PolicySpec>(policies), new EquatableArray<DiagnosticInfo>(diagnostics));
    }

    internal static EquatableArray<PolicyUsageSpec> ParseUsages(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        new(context.Attributes
            .Where(a => a.ConstructorArguments.Length == 1 && a.ConstructorArguments[0].Value is string)
            .Select(a => new PolicyUsageSpec(
                (string)a.ConstructorArguments[0].Value!,
                a.NamedArguments.FirstOrDefault(n => n.Key == "Cost").Value.Value is int cost ? cost : 1,
                LocationInfo.From(a.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation()))));

    /// <summary>Converts a policy name to a type name: "login-v2" → "LoginV2".</summary>
    internal static string ToTypeName(string name)
    {
        var builder = new StringBuilder();
        bool upper = true;
        foreach (char c in name)
        {
            if (!char.IsLetterOrDigit(c))
            {
                upper = true;
                continue;
            }

            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        string result = builder.ToString();
        return result.Length == 0 || char.IsDigit(result[0]) ? "Policy" + result : result;
    }

    private static PolicySpec? ParsePolicy(AttributeData attribute, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        Location? location = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();
        if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not string name || name.Trim().Length == 0)
        {
            diagnostics.Add(Info(DiagnosticDescriptors.Contradictory, location, "(unnamed)", "a policy needs a non-empty name"));
            return null;
        }

        var named = attribute.NamedArguments.ToDictionary(a => a.Key, a => a.Value.Value);
        int errors = diagnostics.Count;
        int Int(string key, int fallback) => named.TryGetValue(key, out object? v) && v is int i ? i : fallback;
        bool Bool(string key, bool fallback) => named.TryGetValue(key, out object? v) && v is bool b ? b : fallback;
        long Duration(string key, string fallback, bool allowForever)
        {
            string text = named.TryGetValue(key, out object? v) && v is string s ? s : fallback;
            if (!DurationSyntax.TryParse(text, out long ms) || (ms == DurationSyntax.Forever && !allowForever))
            {
                diagnostics.Add(Info(DiagnosticDescriptors.UnparsableDuration, location, key, name, text, allowForever ? " or forever" : string.Empty));
                return 0;
            }

            if (ms > MaxFiniteMs)
            {
                diagnostics.Add(Info(DiagnosticDescriptors.Contradictory, location, name, $"{key} is {text}, more than 10 years; use forever where allowed"));
            }

            return ms;
        }

        int permitLimit = Int("PermitLimit", 0);
        if (permitLimit <= 0)
        {
            diagnostics.Add(Info(DiagnosticDescriptors.NonPositive, location, "PermitLimit", name, permitLimit.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        long window = 0;
        if (!named.TryGetValue("Window", out object? windowText) || windowText is not string)
        {
            diagnostics.Add(Info(DiagnosticDescriptors.NonPositive, location, "Window", name, "no value"));
        }
        else
        {
            window = Duration("Window", string.Empty, allowForever: false);
            if (window == 0 && diagnostics.Count == errors)
            {
                diagnostics.Add(Info(DiagnosticDescriptors.NonPositive, location, "Window", name, (string)windowText));
            }
        }

        long blockDuration = Duration("BlockDuration", "0s", allowForever: false);
        long blockExceed = Duration("BlockExceedDuration", "forever", allowForever: true);
        long maxWindow = Duration("MaxWindowDuration", "1d", allowForever: true);
        long cooldown = Duration("Cooldown", "0s", allowForever: false);
        long maxBlock = named.ContainsKey("MaxBlockDuration") ? Duration("MaxBlockDuration", "0s", allowForever: false) : -1;
        int blockLimit = Int("BlockLimit", -1);
        int accumulateLimit = Int("AccumulateLimit", -1);
        int grace = Int("GracePermits", 0);
        int maxClientsPerPrefix = Int("MaxClientsPerPrefix", DefaultMaxClientsPerPrefix);
        bool accumulate = Bool("AccumulateRequests", false);
        double multiplier = named.TryGetValue("BlockMultiplier", out object? m) && m is double d ? d : 1.0;

        void Contradiction(string message) => diagnostics.Add(Info(DiagnosticDescriptors.Contradictory, location, name, message));
        if (blockExceed == 0)
        {
            Contradiction("BlockExceedDuration must be greater than 0, or forever");
        }

        if (maxWindow == 0 || (maxWindow > 0 && window > 0 && maxWindow < window))
        {
            Contradiction("MaxWindowDuration must be at least Window, or forever");
        }

        if (maxBlock == 0 || (maxBlock > 0 && maxBlock < blockDuration))
        {
            Contradiction("MaxBlockDuration must be greater than 0 and at least BlockDuration");
        }

        if (blockLimit < -1 || blockLimit > MaxBlockLimit)
        {
            Contradiction($"BlockLimit must be between 0 and {MaxBlockLimit}, or -1 for none; got {blockLimit}");
        }

        if (accumulateLimit < -1 || grace < 0)
        {
            Contradiction("AccumulateLimit (or -1 for PermitLimit) and GracePermits must not be negative");
        }

        if (accumulateLimit >= 0 && !accumulate)
        {
            Contradiction("AccumulateLimit is set but AccumulateRequests is false");
        }

        if (double.IsNaN(multiplier) || double.IsInfinity(multiplier) || multiplier < 1.0)
        {
            Contradiction($"BlockMultiplier must be a finite number of at least 1.0; got {multiplier.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        }

        if (blockExceed != 0 && named.ContainsKey("BlockExceedDuration") && blockLimit < 0)
        {
            Contradiction("BlockExceedDuration is set but BlockLimit is not, so no client is ever punished");
        }

        if (maxClientsPerPrefix < 0 || maxClientsPerPrefix > MaxClientsPerPrefixLimit)
        {
            Contradiction($"MaxClientsPerPrefix must be between 0 (off) and {MaxClientsPerPrefixLimit}; got {maxClientsPerPrefix}");
        }

        // The shapes (FloodgateAlgorithm: 0 FixedWindow, 1 SlidingWindow, 2 TokenBucket) and the knobs each does not have.
        string[] algorithms = ["FixedWindow", "SlidingWindow", "TokenBucket"];
        int algorithm = Int("Algorithm", 0);
        int burst = Int("Burst", -1);
        if (algorithm < 0 || algorithm >= algorithms.Length)
        {
            Contradiction($"Algorithm must be FixedWindow, SlidingWindow or TokenBucket; got {algorithm}");
        }
        else
        {
            string shape = algorithms[algorithm];
            if (burst != -1 && algorithm != 2)
            {
                Contradiction($"Burst applies only to Algorithm TokenBucket (this policy is {shape}); remove it");
            }
            else if (burst != -1 && (burst < 1 || burst > MaxTotalPermits))
            {
                Contradiction($"Burst must be between 1 and {MaxTotalPermits}, or -1 for PermitLimit; got {burst}");
            }

            if (accumulate && algorithm != 0)
            {
                Contradiction($"AccumulateRequests applies only to Algorithm FixedWindow: a {shape} has no windows to carry permits between");
            }

            if (algorithm == 1 && (long)permitLimit + Math.Max(0, grace) > PolicyLimits.MaxSlidingPermits)
            {
                Contradiction($"PermitLimit + GracePermits must not exceed {PolicyLimits.MaxSlidingPermits} on a SlidingWindow; got {(long)permitLimit + grace}");
            }

            long permits = algorithm == 2 && burst > 0 ? burst : permitLimit;
            if (algorithm != 0 && permitLimit > 0 && window > 0 && grace >= 0 && !ShapeMath.UnitsFit(permits + grace + 1, window, permitLimit))
            {
                Contradiction($"({(algorithm == 2 ? "Burst" : "PermitLimit")} + GracePermits + 1) × Window in ms must stay below {ShapeMath.MaxUnits} (a {shape} is counted in exact integers); use a shorter Window with a proportionally smaller PermitLimit");
            }
        }

        string? countStatusCodes = named.TryGetValue("CountStatusCodes", out object? codes) ? codes as string : null;
        if (countStatusCodes is not null && !StatusCodeSet.TryParse(countStatusCodes, out _))
        {
            diagnostics.Add(Info(DiagnosticDescriptors.BadStatusSet, location, name, countStatusCodes));
        }
        else if (countStatusCodes is not null && cooldown > 0)
        {
            Contradiction("Cooldown cannot be combined with CountStatusCodes (a cooldown is between requests, and only some are counted); remove one");
        }

        int mode = Int("Mode", 0);
        if (mode is not (0 or 1))
        {
            Contradiction($"Mode must be Enforce or Shadow; got {mode}");
        }

        long total = (long)permitLimit + Math.Max(0, grace) + (accumulate ? (accumulateLimit < 0 ? permitLimit : accumulateLimit) : 0);
        if (total > MaxTotalPermits)
        {
            Contradiction($"PermitLimit + GracePermits + AccumulateLimit must not exceed {MaxTotalPermits}; got {total}");
        }

        return diagnostics.Count > errors ? null : new PolicySpec(
            name, ToTypeName(name), permitLimit, window, blockDuration, Bool("RelativeBlock", false), blockLimit, blockExceed,
            Bool("BlockExceedReset", true), maxWindow, accumulate, accumulateLimit, cooldown, grace, multiplier, maxBlock,
            maxClientsPerPrefix, algorithm, burst, countStatusCodes, mode, LocationInfo.From(location));
    }

    private static string Keyword(TypeDeclarationSyntax type) => type switch
    {
        RecordDeclarationSyntax r => r.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) ? "record struct" : "record",
        StructDeclarationSyntax => "struct",
        InterfaceDeclarationSyntax => "interface",
        _ => "class",
    };

    private static DiagnosticInfo Info(DiagnosticDescriptor descriptor, Location? location, params string[] arguments) =>
        new(descriptor.Id, LocationInfo.From(location), new EquatableArray<string>(arguments));
}
