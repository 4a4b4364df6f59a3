using Microsoft.CodeAnalysis;

namespace Floodgate.Generators;

/// <summary>The diagnostics of the Floodgate generator (tracked in AnalyzerReleases.*.md).</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Floodgate";

    public static readonly DiagnosticDescriptor UnparsableDuration = new(
        "FLOOD001", "Duration cannot be parsed",
        "{0} of Floodgate policy '{1}' is '{2}', which is not a duration: use a number and a unit (500ms, 30s, 15m, 2h, 7d) or a TimeSpan (00:00:30){3}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonPositive = new(
        "FLOOD002", "Permit limit or window missing, zero or negative",
        "{0} of Floodgate policy '{1}' must be greater than 0; got {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateName = new(
        "FLOOD003", "Duplicate policy name",
        "Floodgate policy '{0}' is declared more than once in this assembly",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownPolicy = new(
        "FLOOD004", "Unknown policy",
        "[Floodgate(\"{0}\")] names a policy this assembly does not declare with [FloodgatePolicy]; declared: {1}. Configure it at run time (AddPolicy or the Floodgate:Policies section), or the app will not start.",
        Category, DiagnosticSeverity.Info, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotPartial = new(
        "FLOOD005", "Type declaring policies is not partial",
        "'{0}' declares Floodgate policies, so it and every type containing it must be partial",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Contradictory = new(
        "FLOOD006", "Contradictory or out-of-range settings",
        "Floodgate policy '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TypeNameClash = new(
        "FLOOD007", "Two policy names map to the same type name",
        "Floodgate policies '{0}' and '{1}' would both be generated as type '{2}': rename one",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadCost = new(
        "FLOOD008", "A cost the policy can never admit",
        "Cost of [Floodgate(\"{0}\")] must be {1}; got {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadStatusSet = new(
        "FLOOD009", "A status set that cannot be read",
        "CountStatusCodes of Floodgate policy '{0}' must be status codes (100 to 599) or classes (1xx to 5xx) separated by commas (such as 401, 401,403 or 4xx); got '{1}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "FLOOD009" => BadStatusSet,
        "FLOOD001" => UnparsableDuration,
        "FLOOD002" => NonPositive,
        "FLOOD003" => DuplicateName,
        "FLOOD004" => UnknownPolicy,
        "FLOOD005" => NotPartial,
        "FLOOD006" => Contradictory,
        "FLOOD008" => BadCost,
        _ => TypeNameClash,
    };
}
