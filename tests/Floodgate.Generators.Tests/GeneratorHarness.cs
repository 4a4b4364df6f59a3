using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Floodgate.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Floodgate.Generators.Tests;

/// <summary>Runs the real generator over source text, as the compiler does.</summary>
internal static class GeneratorHarness
{
    private static readonly MetadataReference[] s_references =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .Append(MetadataReference.CreateFromFile(typeof(FloodgatePolicy).Assembly.Location))
            .ToArray();

    public static CSharpCompilation Compilation(params string[] sources) => CSharpCompilation.Create(
        "Consumer",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: $"Source{i}.cs")),
        s_references,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver() => CSharpGeneratorDriver.Create(
        [new PolicyGenerator().AsSourceGenerator()],
        parseOptions: new CSharpParseOptions(LanguageVersion.Latest),
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Generates, and returns the generated files, the generator's diagnostics and the compiler's errors afterwards.</summary>
    public static (ImmutableArray<(string Hint, string Text)> Sources, ImmutableArray<Diagnostic> Diagnostics, ImmutableArray<Diagnostic> CompileErrors, Compilation Output) Run(params string[] sources)
    {
        CSharpCompilation compilation = Compilation(sources);
        GeneratorDriver driver = Driver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        return (
            result.GeneratedSources.Select(s => (s.HintName, s.SourceText.ToString())).ToImmutableArray(),
            diagnostics,
            output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray(),
            output);
    }

    /// <summary>Compiles with the generated code and loads the assembly.</summary>
    public static Assembly Load(Compilation output)
    {
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, string.Join(Environment.NewLine, emit.Diagnostics));
        stream.Position = 0;
        return new AssemblyLoadContext("generated-" + Guid.NewGuid(), isCollectible: true).LoadFromStream(stream);
    }

    /// <summary>Calls the generated registry.AddFloodgatePolicies() in a loaded assembly.</summary>
    public static FloodgatePolicyRegistry Registry(Assembly assembly)
    {
        var registry = new FloodgatePolicyRegistry();
        MethodInfo add = assembly.GetType("Floodgate.GeneratedFloodgatePolicies", throwOnError: true)!.GetMethod("AddFloodgatePolicies")!;
        add.Invoke(null, [registry]);
        return registry;
    }
}
