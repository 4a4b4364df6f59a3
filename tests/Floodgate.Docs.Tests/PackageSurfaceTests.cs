using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Floodgate.Tests.Shared;

namespace Floodgate.Docs.Tests;

/// <summary>
/// The packages meet through their public surface: every packable project tracks it with the PublicAPI analyzers,
/// grants <c>InternalsVisibleTo</c> to test projects only, and all of them carry one version.
/// </summary>
public sealed class PackageSurfaceTests
{
    private static readonly Assembly[] s_packages =
    [
        typeof(FloodgateLimiter).Assembly,                                                   // Floodgate.Fast
        typeof(FloodgateOutboundOptions).Assembly,                                           // Floodgate.Http
        typeof(FloodgateOptions).Assembly,                                                   // Floodgate.AspNetCore
        typeof(FloodgateRedisLimiter).Assembly,                             // Floodgate.Redis
    ];

    [Fact]
    public void EveryPackableProjectTracksItsPublicApi()
    {
        List<string> packable = Directory.EnumerateFiles(Path.Combine(Repository.Root, "src"), "*.csproj", SearchOption.AllDirectories)
            .Where(path => XDocument.Load(path).Descendants("IsPackable").Any(e => e.Value == "true"))
            .ToList();
        Assert.Equal(["Floodgate.AspNetCore", "Floodgate.Fast", "Floodgate.Http", "Floodgate.Redis"], packable.Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal));
        foreach (string project in packable)
        {
            XDocument xml = XDocument.Load(project);
            Assert.Contains(xml.Descendants("PackageReference"), e => e.Attribute("Include")?.Value == "Microsoft.CodeAnalysis.PublicApiAnalyzers");
            foreach (string file in new[] { "PublicAPI.Shipped.txt", "PublicAPI.Unshipped.txt" })
            {
                Assert.Contains(xml.Descendants("AdditionalFiles"), e => e.Attribute("Include")?.Value == file);
                Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(project)!, file)), $"{project} has no {file}");
            }
        }
    }

    [Fact]
    public void NoPackageGrantsItsInternalsToAnythingButTests()
    {
        foreach (Assembly package in s_packages.Append(typeof(Floodgate.Generators.PolicyGenerator).Assembly))
        {
            foreach (InternalsVisibleToAttribute grant in package.GetCustomAttributes<InternalsVisibleToAttribute>())
            {
                Assert.True(grant.AssemblyName.EndsWith(".Tests", StringComparison.Ordinal),
                    $"{package.GetName().Name} grants its internals to {grant.AssemblyName}, which is not a test project");
            }
        }
    }

    [Fact]
    public void EveryHiddenMemberOfTheExtensionSurfaceIsDocumented()
    {
        string page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "how-it-works.md"));
        string section = page[page.IndexOf("## Extension surface", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var hidden = new List<string>();
        foreach (Type type in s_packages.SelectMany(a => a.GetExportedTypes()))
        {
            if (IsHidden(type))
            {
                hidden.Add(type.IsGenericType ? type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)] : type.Name);
            }

            hidden.AddRange(type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(IsHidden)
                .Select(m => m is ConstructorInfo ? type.Name : m.Name.Replace("get_", string.Empty, StringComparison.Ordinal).Replace("set_", string.Empty, StringComparison.Ordinal)));
        }

        Assert.True(hidden.Count >= 15, $"only {hidden.Count} hidden members found");
        Assert.All(hidden.Distinct(), name => Assert.Contains(name, section, StringComparison.Ordinal));

        static bool IsHidden(MemberInfo member) =>
            member.GetCustomAttribute<System.ComponentModel.EditorBrowsableAttribute>()?.State == System.ComponentModel.EditorBrowsableState.Never;
    }

    [Fact]
    public void AllPackagesCarryOneVersion()
    {
        var versions = s_packages.Select(a => (a.GetName().Name, Version: a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0])).ToList();
        Assert.Single(versions.Select(v => v.Version).Distinct());
    }
}
