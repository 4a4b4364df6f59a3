using System.Text.RegularExpressions;
using Floodgate.Tests.Shared;

namespace Floodgate.Docs.Tests;

/// <summary>
/// One registry of event ids (docs/operations.md): each package owns a range, no id is used twice, and the registry
/// lists every <c>[LoggerMessage]</c> of <c>src/</c> with its level.
/// </summary>
public sealed partial class EventIdTests
{
    private static readonly string s_registry = Path.Combine(Repository.Root, "docs", "operations.md");

    [Fact]
    public void EveryLogMessageHasAnIdOfItsPackagesRangeUsedOnce()
    {
        List<LogMessage> messages = LogMessages();
        Assert.True(messages.Count >= 20, $"only {messages.Count} [LoggerMessage] found: is the source scan broken?");
        Dictionary<string, (int From, int To)> ranges = Ranges();
        Assert.Equal(["Floodgate.AspNetCore", "Floodgate.Fast", "Floodgate.Http", "Floodgate.Redis"], ranges.Keys.Order(StringComparer.Ordinal));

        var problems = new List<string>();
        foreach (IGrouping<int, LogMessage> id in messages.GroupBy(m => m.Id).Where(g => g.Count() > 1))
        {
            problems.Add($"event id {id.Key} is used by {string.Join(" and ", id.Select(m => m.Where))}");
        }

        foreach (LogMessage message in messages)
        {
            if (!ranges.TryGetValue(message.Package, out var range))
            {
                problems.Add($"{message.Where}: package {message.Package} has no range in the registry");
            }
            else if (message.Id < range.From || message.Id > range.To)
            {
                problems.Add($"{message.Where}: event id {message.Id} is outside {message.Package}'s range {range.From}-{range.To}");
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void TheRegistryListsEveryIdWithItsLevelAndNoOther()
    {
        List<LogMessage> messages = LogMessages();
        Dictionary<int, string> listed = RegistryRow().Matches(File.ReadAllText(s_registry))
            .ToDictionary(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m => m.Groups[2].Value);
        foreach (LogMessage message in messages)
        {
            Assert.True(listed.TryGetValue(message.Id, out string? level), $"docs/operations.md does not list event {message.Id} ({message.Where})");
            Assert.True(level == message.Level, $"docs/operations.md lists event {message.Id} as {level}; the code logs it as {message.Level}");
        }

        Assert.Empty(listed.Keys.Except(messages.Select(m => m.Id)));
    }

    private static List<LogMessage> LogMessages()
    {
        string src = Path.Combine(Repository.Root, "src");
        return Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(path => LoggerMessage().Matches(File.ReadAllText(path)).Select(m => new LogMessage(
                Path.GetRelativePath(src, path).Split(Path.DirectorySeparatorChar)[0],
                int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                m.Groups[2].Value,
                Path.GetRelativePath(Repository.Root, path))))
            .ToList();
    }

    private static Dictionary<string, (int From, int To)> Ranges() =>
        RangeRow().Matches(File.ReadAllText(s_registry)).ToDictionary(
            m => m.Groups[3].Value,
            m => (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));

    [GeneratedRegex(@"\[LoggerMessage\(\s*EventId\s*=\s*(\d+)\s*,\s*Level\s*=\s*LogLevel\.(\w+)")]
    private static partial Regex LoggerMessage();

    [GeneratedRegex(@"^\| (\d+)-(\d+) \| (Floodgate\.\w+) ", RegexOptions.Multiline)]
    private static partial Regex RangeRow();

    [GeneratedRegex(@"^\| (\d+) \| (\w+) \|", RegexOptions.Multiline)]
    private static partial Regex RegistryRow();

    private sealed record LogMessage(string Package, int Id, string Level, string Where);
}
