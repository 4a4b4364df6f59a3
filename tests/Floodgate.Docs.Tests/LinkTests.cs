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
                string target = link.Groups[1].Value.Split('#')[0];
                if (target.Length == 0)
                {
                    broken.Add($"{Path.GetFileName(page)}: {link.Value} (an anchor: the README's sections moved to docs/ pages)");
                }
                else if (!File.Exists(Path.Combine(Path.GetDirectoryName(page)!, target)) && !Directory.Exists(Path.Combine(Path.GetDirectoryName(page)!, target)))
                {
                    broken.Add($"{Path.GetFileName(page)}: {link.Value}");
                }
            }
        }

        Assert.True(broken.Count == 0, string.Join(Environment.NewLine, broken));
    }

    [Fact]
    public void TheReadmeIsAtMostAboutTwoHundredLines() =>
        Assert.InRange(File.ReadAllLines(Path.Combine(Repository.Root, "README.md")).Length, 1, 200);

    [GeneratedRegex(@"\]\((?!https?:|mailto:)([^)\s]+)\)")]
    private static partial Regex RelativeLink();
}
