namespace Floodgate.Tests.Shared;

/// <summary>The repository this test run was built from, and the C# snippets of its Markdown files.</summary>
internal static class Repository
{
    /// <summary>Gets the build configuration of the running tests: Release or Debug (bin/&lt;Configuration&gt;/&lt;framework&gt;/).</summary>
    public static string Configuration =>
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;

    /// <summary>Gets the repository root: tests/&lt;project&gt;/bin/&lt;Configuration&gt;/&lt;framework&gt;/ is five levels below it.</summary>
    public static string Root =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    /// <summary>Gets every <c>```csharp</c> block of a Markdown file, with the line it starts on and the heading above it.</summary>
    public static IReadOnlyList<Snippet> CSharpSnippets(string markdownFile)
    {
        string[] lines = File.ReadAllLines(markdownFile);
        var snippets = new List<Snippet>();
        string heading = string.Empty;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith('#'))
            {
                heading = lines[i].TrimStart('#').Trim();
            }
            else if (lines[i].Trim() == "```csharp")
            {
                int start = i + 1;
                int end = start;
                while (end < lines.Length && lines[end].Trim() != "```")
                {
                    end++;
                }

                snippets.Add(new Snippet(Path.GetRelativePath(Root, markdownFile), start + 1, heading, string.Join('\n', lines[start..end])));
                i = end;
            }
        }

        return snippets;
    }

    /// <summary>Gets the quick start of the README: the C# block under its "Quick start" heading.</summary>
    public static Snippet QuickStart =>
        CSharpSnippets(Path.Combine(Root, "README.md")).First(s => s.Heading.Equals("Quick start", StringComparison.OrdinalIgnoreCase));

    /// <summary>A C# block of a Markdown file.</summary>
    public sealed record Snippet(string File, int Line, string Heading, string Code)
    {
        public override string ToString() => $"{File}:{Line} ({Heading})";
    }
}
