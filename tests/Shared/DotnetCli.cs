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
}
