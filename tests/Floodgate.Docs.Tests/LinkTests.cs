using System.Text.RegularExpressions;
using Floodgate.Tests.Shared;

namespace Floodgate.Docs.Tests;

/// <summary>The README and the docs pages link only to files that exist, and the README stays short.</summary>
public sealed partial class LinkTests
{
    [Fact]
    public void EveryRelativeLinkPointsAtAFileOfTheRepository()
    {
        var broken = new List<string>();
        foreach (string page in Directory.EnumerateFiles(Path.Combine(Repository.Root, "docs"), "*.md").Prepend(Path.Combine(Repository.Root, "README.md")))
        {
            foreach (Match link in RelativeLink().Matches(File.ReadAllText(page)))
            {
                string[] parts = link.Groups[1].Value.Split('#', 2);
                string target = parts[0].Length == 0 ? page : Path.Combine(Path.GetDirectoryName(page)!, parts[0]);
                if (!File.Exists(target) && !Directory.Exists(target))
                {
                    broken.Add($"{Path.GetFileName(page)}: {link.Value}");
                }
                else if (parts.Length == 2 && !(File.Exists(target) && Anchors(target).Contains(parts[1])))
                {
                    broken.Add($"{Path.GetFileName(page)}: {link.Value} (no such heading)");
                }
            }
        }

        Assert.True(broken.Count == 0, string.Join(Environment.NewLine, broken));
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static HashSet<string> Anchors(string page) =>
        File.ReadAllLines(page)
            .Where(line => line.StartsWith('#'))
            .Select(line => Regex.Replace(line.TrimStart('#').Trim().ToLowerInvariant(), @"[^\w\- ]", string.Empty).Replace(' ', '-'))
            .ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void TheReadmeIsAtMostAboutTwoHundredLines() =>
        Assert.InRange(File.ReadAllLines(Path.Combine(Repository.Root, "README.md")).Length, 1, 200);

    [GeneratedRegex(@"\]\((?!https?:|mailto:)([^)\s]+)\)")]
    private static partial Regex RelativeLink();
}
