using System.Reflection;
using Floodgate.Tests.Shared;

namespace Floodgate.Docs.Tests;

/// <summary>docs/configuration.md lists every public option of every options type, in that type's section.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData(typeof(FloodgatePolicy))]
    [InlineData(typeof(FloodgateOptions))]
    [InlineData(typeof(FloodgateChallengeOptions))]
    [InlineData(typeof(FloodgateLimiterOptions))]
    [InlineData(typeof(FloodgateOutboundOptions))]
    [InlineData(typeof(FloodgateRedisOptions))]
    public void TheReferenceListsEveryOptionOfTheType(Type options)
    {
        string page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "configuration.md"));
        string[] sections = page.Split("\n## ");
        string section = Assert.Single(sections, s => s.StartsWith(options.Name + ":", StringComparison.Ordinal));
        List<string> settings = options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod?.IsPublic == true || (p.PropertyType.IsGenericType && p.PropertyType.Namespace == "System.Collections.Generic") || p.PropertyType.Name.EndsWith("Options", StringComparison.Ordinal))
            .Select(p => p.Name)
            .ToList();
        Assert.NotEmpty(settings);
        Assert.All(settings, name => Assert.Contains($"| `{name}` |", section, StringComparison.Ordinal));
    }
}
