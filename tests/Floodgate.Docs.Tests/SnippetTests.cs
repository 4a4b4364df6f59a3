using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Floodgate.Tests.Shared;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Floodgate.Docs.Tests;

/// <summary>
/// Every <c>```csharp</c> block of the README and of <c>docs/</c> compiles against the packages, with the source
/// generator running, as it would in a <c>dotnet new web</c> app (its implicit usings). A block may use
/// <c>builder</c>, <c>app</c>, <c>limiter</c>, <c>policy</c> or <c>ip</c> without declaring them, as a
/// <c>Program.cs</c> would have them; nothing else is added.
/// </summary>
public sealed partial class SnippetTests
{
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Net.Http.Json;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using Microsoft.AspNetCore.Builder;
        global using Microsoft.AspNetCore.Hosting;
        global using Microsoft.AspNetCore.Http;
        global using Microsoft.AspNetCore.Routing;
        global using Microsoft.Extensions.Configuration;
        global using Microsoft.Extensions.DependencyInjection;
        global using Microsoft.Extensions.Hosting;
        global using Microsoft.Extensions.Logging;
        """;

    // What a Program.cs has in scope before the lines a snippet shows; added only for names the snippet uses undeclared.
    private static readonly (string Name, string Declaration)[] s_context =
    [
        ("builder", "var builder = WebApplication.CreateBuilder(args);"),
        ("app", "var app = builder.Build();"),
        ("policy", "var policy = new Floodgate.FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) };"),
        ("limiter", "using var limiter = new Floodgate.FloodgateLimiter(new Floodgate.FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) });"),
        ("ip", "var ip = System.Net.IPAddress.Loopback;"),
    ];

    private static readonly MetadataReference[] s_references =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .Where(path => !Path.GetFileName(path).StartsWith("Floodgate.Docs.Tests", StringComparison.Ordinal)
                && !Path.GetFileName(path).StartsWith("Floodgate.Generators", StringComparison.Ordinal)
                && !Path.GetFileName(path).StartsWith("xunit", StringComparison.Ordinal))
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(g => (MetadataReference)MetadataReference.CreateFromFile(g.First()))
            .ToArray();

    public static TheoryData<string> Snippets()
    {
        var data = new TheoryData<string>();
        foreach (Repository.Snippet snippet in AllSnippets())
        {
            data.Add(snippet.ToString());
        }

        return data;
    }

    [Fact]
    public void TheReadmeAndEveryDocsPageAreFound()
    {
        List<Repository.Snippet> snippets = AllSnippets().ToList();
        Assert.Contains(snippets, s => s.File == "README.md" && s.Heading == "Quick start");
        Assert.True(snippets.Count >= 10, $"only {snippets.Count} C# snippets found");
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void TheSnippetCompiles(string where)
    {
        Repository.Snippet snippet = AllSnippets().Single(s => s.ToString() == where);
        string code = WithContext(snippet.Code);
        SyntaxTree tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest), path: snippet.File);
        bool program = tree.GetCompilationUnitRoot().Members.Any(m => m is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax);
        CSharpCompilation compilation = CSharpCompilation.Create(
            "Snippet",
            [tree, CSharpSyntaxTree.ParseText(ImplicitUsings, new CSharpParseOptions(LanguageVersion.Latest))],
            s_references,
            new CSharpCompilationOptions(program ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        CSharpGeneratorDriver.Create(new Floodgate.Generators.PolicyGenerator().AsSourceGenerator())
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);

        List<string> errors = generatorDiagnostics.Concat(output.GetDiagnostics())
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => $"{where} +{d.Location.GetLineSpan().StartLinePosition.Line + 1}: {d.Id} {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}")
            .ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors) + Environment.NewLine + code);
    }

    private static IEnumerable<Repository.Snippet> AllSnippets() =>
        new[] { Path.Combine(Repository.Root, "README.md") }
            .Concat(Directory.EnumerateFiles(Path.Combine(Repository.Root, "docs"), "*.md").Order(StringComparer.Ordinal))
            .SelectMany(Repository.CSharpSnippets);

    /// <summary>Puts the declarations of the context names the snippet uses but does not declare in front of it (after its usings).</summary>
    private static string WithContext(string code)
    {
        var lines = code.Split('\n').ToList();
        int afterUsings = lines.FindLastIndex(l => l.StartsWith("using ", StringComparison.Ordinal) && l.TrimEnd().EndsWith(';') && !l.Contains('=', StringComparison.Ordinal)) + 1;
        var added = new List<string>();
        foreach ((string name, string declaration) in s_context)
        {
            bool used = Regex.IsMatch(code, $@"(?<![\w.""]){name}\b(?!\s*[:=]\s)");
            bool declared = Regex.IsMatch(code, $@"\b(var|using var|[A-Z]\w*)\s+{name}\s*=");
            bool neededByAnother = added.Any(d => Regex.IsMatch(d, $@"\b{name}\."));
            if ((used && !declared) || neededByAnother)
            {
                added.Add(declaration);
            }
        }

        // "app" is built from "builder": keep their order.
        if (added.Exists(d => d.StartsWith("var app", StringComparison.Ordinal)) && !added.Exists(d => d.StartsWith("var builder", StringComparison.Ordinal)) && !Regex.IsMatch(code, @"\bvar builder\s*="))
        {
            added.Insert(0, s_context[0].Declaration);
        }

        lines.InsertRange(afterUsings, added);
        return string.Join('\n', lines);
    }
}
