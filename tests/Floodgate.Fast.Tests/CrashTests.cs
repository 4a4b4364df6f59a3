using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// A child process checkpoints in a loop and is killed with SIGKILL wherever it is; every recovery must be one
/// complete checkpoint (the bans 1..m, no gap), holding at least every ban it reported durable.
/// </summary>
public sealed class CrashTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "floodgate-crash-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void EveryRecoveryAfterSigkillIsACompleteCheckpoint()
    {
        var random = new Random(2026);
        long durable = 0;
        for (int crash = 0; crash < 20; crash++)
        {
            // Kill after a random number of reported checkpoints: the helper is then somewhere inside the next one.
            int reports = random.Next(1, 4);
            long reported = RunAndKill(reports, out long recoveredByHelper);
            Assert.True(recoveredByHelper >= durable, $"crash {crash}: the helper recovered {recoveredByHelper} bans, {durable} were durable");
            durable = Math.Max(durable, reported);

            long present = CountBans(out bool gap);
            Assert.False(gap, $"crash {crash}: the recovered bans have a gap (a mix of checkpoints)");
            Assert.InRange(present, durable, durable + 1);   // the checkpoint in flight may have completed unreported
            durable = present;
        }

        Assert.True(durable >= 20);
    }

    [Fact]
    public void AnotherProcessHoldingTheDirectoryIsRefusedNamingIt()
    {
        var start = new ProcessStartInfo("dotnet", [HelperPath(), _directory]) { RedirectStandardOutput = true, UseShellExecute = false };
        using Process helper = Process.Start(start)!;
        try
        {
            Assert.StartsWith("recovered", helper.StandardOutput.ReadLine());   // the helper holds the directory now
            var error = Assert.Throws<InvalidOperationException>(() => new FloodgateLimiter(
                new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromSeconds(1) },
                new FloodgateLimiterOptions { DataDirectory = _directory }));
            Assert.Contains(Path.GetFullPath(_directory), error.Message);
            Assert.Contains("another limiter", error.Message);
        }
        finally
        {
            helper.Kill();
            helper.WaitForExit();
        }
    }

    /// <summary>Starts the helper, kills it after it reported <paramref name="reports"/> checkpoints, and returns the last one reported.</summary>
    private long RunAndKill(int reports, out long recovered)
    {
        var start = new ProcessStartInfo("dotnet", [HelperPath(), _directory])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using Process helper = Process.Start(start)!;
        recovered = -1;
        long last = 0;
        int seen = 0;
        try
        {
            while (seen < reports)
            {
                string? line = helper.StandardOutput.ReadLine();
                Assert.NotNull(line);
                string[] parts = line.Split(' ');
                if (parts[0] == "recovered")
                {
                    recovered = long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                }
                else
                {
                    last = long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                    seen++;
                }
            }
        }
        finally
        {
            helper.Kill();   // SIGKILL on Unix: no finalizers, no final checkpoint
            helper.WaitForExit();
        }

        return last;
    }

    private long CountBans(out bool gap)
    {
        var time = new FakeTimeProvider();
        var limiter = new FloodgateLimiter(
            new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) },
            new FloodgateLimiterOptions { DataDirectory = _directory, TimeProvider = time, Capacity = 1 << 16, CheckpointInterval = TimeSpan.FromDays(1) });
        try
        {
            long count = 0;
            while (limiter.Inspect(IpKey.FromIPv4((uint)(count + 1))).IsBlacklisted)
            {
                count++;
            }

            gap = limiter.GetBlockedClients().Count != count;
            return count;
        }
        finally
        {
            limiter.Dispose();   // a final checkpoint of the same state
        }
    }

    private static string HelperPath()
    {
        // tests/Floodgate.Fast.Tests/bin/<Configuration>/<framework>/ -> tests/Floodgate.CrashHelper/bin/<Configuration>/<framework>/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = output.Name;
        string configuration = output.Parent!.Name;
        string tests = output.Parent!.Parent!.Parent!.Parent!.FullName;
        string path = Path.Combine(tests, "Floodgate.CrashHelper", "bin", configuration, framework, "Floodgate.CrashHelper.dll");
        Assert.True(File.Exists(path), $"crash helper not built at {path}");
        return path;
    }
}
