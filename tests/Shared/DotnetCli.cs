using System.Diagnostics;

namespace Floodgate.Tests.Shared;

/// <summary>Runs the <c>dotnet</c> CLI (pack, new, add package, build, run) as a user would, bounded in time.</summary>
internal static class DotnetCli
{
    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/> in <paramref name="directory"/>; fails the test unless it exits as expected.</summary>
    /// <returns>Its standard output and error.</returns>
    public static string Run(string[] arguments, string directory, bool expectSuccess = true)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), $"dotnet {string.Join(' ', arguments)} did not finish");
        string all = stdout + stderr.Result;
        Assert.True((process.ExitCode == 0) == expectSuccess, $"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:{Environment.NewLine}{all}");
        return all;
    }

    /// <summary>Writes a <c>nuget.config</c> into <paramref name="directory"/> that adds <paramref name="feed"/> to the machine's sources.</summary>
    public static void WriteLocalFeedConfig(string directory, string feed) =>
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="floodgate-test" value="{feed}" />
              </packageSources>
            </configuration>
            """);

    /// <summary>Removes packages restored into the global cache under a test's one-off <paramref name="version"/>.</summary>
    public static void RemoveFromGlobalCache(string version, params string[] ids)
    {
        string home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string id in ids)
        {
            string cached = Path.Combine(home, id.ToLowerInvariant(), version);
            if (Directory.Exists(cached))
            {
                Directory.Delete(cached, recursive: true);
            }
        }
    }
}
