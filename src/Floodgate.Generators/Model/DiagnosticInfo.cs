using System.Linq;
using Microsoft.CodeAnalysis;

namespace Floodgate.Generators.Model;

/// <summary>A diagnostic to report, kept as plain data until the output step.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(DiagnosticDescriptors.ById(Id), Location?.ToLocation(), Arguments.Cast<object>().ToArray());
}
