using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Floodgate.Generators.Model;

/// <summary>A diagnostic's location without the syntax tree it came from (models must not hold Roslyn objects).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null
            ? null
            : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);

    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);
}
