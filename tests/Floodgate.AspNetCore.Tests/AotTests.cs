using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Floodgate.Tests.Shared;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// tests/Floodgate.AotApp published with Native AOT (one publish per run; clang and zlib1g-dev come from test.sh)
/// and run: no trim or AOT warning from Floodgate's code, and limits, rejections, the admin endpoints, outbound
/// limiting and persistence all work in the native executable.
/// </summary>
public sealed partial class AotTests
{
    [Fact]
    public async Task TheNativeAppLimitsRejectsAndKeepsABlockAcrossACrash()
    {
        string output = Path.Combine(Path.GetTempPath(), "floodgate-aot-" + Guid.NewGuid().ToString("N"));
        string project = Path.GetFullPath(Path.Combine(SampleProcess.Directory, "..", "..", "..", "..", "..", "tests", "Floodgate.AotApp", "Floodgate.AotApp.csproj"));
        try
        {
            (int exit, string log) = await RunAsync("dotnet", $"publish \"{project}\" -c Release -r linux-x64 -o \"{output}\" -nologo", TimeSpan.FromMinutes(15));
            Assert.True(exit == 0, "the AOT publish failed:\n" + log);

            // Trim and AOT warnings: exactly FASTER's summaries (it is not annotated; see the app's project file), nothing else.
            string[] expected =
            [
                "IL2104: Assembly 'FASTER.core' produced trim warnings.",
                "IL3053: Assembly 'FASTER.core' produced AOT analysis warnings.",
                "IL3053: Assembly 'System.Private.DataContractSerialization' produced AOT analysis warnings.",
            ];
            List<string> warnings = WarningLine().Matches(log).Select(m => m.Groups[1].Value.Trim()).Distinct().ToList();
            List<string> unexpected = warnings.Where(w => !expected.Any(e => w.StartsWith(e, StringComparison.Ordinal))).ToList();
            Assert.True(unexpected.Count == 0, "unexpected trim/AOT warnings:\n" + string.Join("\n", unexpected));

            string executable = Path.Combine(output, "Floodgate.AotApp");
            Assert.True(File.Exists(executable), "no native executable in " + output);
            using var app = new SampleProcess(executable: executable);
            await app.WaitUntilReadyAsync();

            // A policy from appsettings.json: 3 a minute, then a 10-minute block with problem+json.
            using HttpClient client = app.ClientFrom(2);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/items")).StatusCode);
            }

            using HttpResponseMessage refused = await client.GetAsync("/items");
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromMinutes(10), refused.Headers.RetryAfter?.Delta);
            using (JsonDocument body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
            {
                Assert.Equal("api", body.RootElement.GetProperty("policy").GetString());
                Assert.Equal("ops@example.com", body.RootElement.GetProperty("contact").GetString());
            }

            using var page = new HttpRequestMessage(HttpMethod.Get, "/items");
            page.Headers.Accept.ParseAdd("text/html");
            using HttpResponseMessage html = await client.SendAsync(page);
            Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Too many requests: temporarily blocked", await html.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // A policy in code, the admin endpoints (source-generated JSON) and outbound limiting.
            using HttpClient other = app.ClientFrom(3);
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
                [(await other.GetAsync("/search")).StatusCode, (await other.GetAsync("/search")).StatusCode, (await other.GetAsync("/search")).StatusCode]);
            // A generated policy: registered by its module initializer and checked by its precompiled checker.
            Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/reports")).StatusCode);
            using (HttpResponseMessage generated = await other.GetAsync("/reports"))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, generated.StatusCode);
                Assert.Equal(TimeSpan.FromMinutes(2), generated.Headers.RetryAfter?.Delta);
            }

            using HttpClient admin = app.ClientFrom(9);
            using (JsonDocument state = JsonDocument.Parse(await admin.GetStringAsync("/floodgate/clients/127.0.0.2")))
            {
                Assert.True(state.RootElement.GetProperty("api").GetProperty("blocked").GetBoolean());
            }

            string[] blacklistedIn;
            DateTime bannedAt = DateTime.UtcNow;
            using (JsonDocument blacklisted = JsonDocument.Parse(await (await admin.PostAsync("/floodgate/clients/127.0.0.4/blacklist", null)).Content.ReadAsStringAsync()))
            {
                blacklistedIn = [.. blacklisted.RootElement.GetProperty("blacklisted").EnumerateArray().Select(p => p.GetString()!)];
            }

            Assert.Contains("api", blacklistedIn);
            Assert.Equal(HttpStatusCode.Forbidden, (await app.ClientFrom(4).GetAsync("/items")).StatusCode);
            Assert.Equal("upstream said healthy", await other.GetStringAsync("/call"));
            Assert.Equal("upstream said healthy", await other.GetStringAsync("/call"));
            using HttpResponseMessage limited = await other.GetAsync("/call");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, limited.StatusCode);
            Assert.StartsWith("outbound limited", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // Persistence under AOT: the block and the blacklisting survive a SIGKILL (the ban journal) and a restart.
            // Killed once each policy's journal has committed after the blacklisting and then gone quiet: a round
            // that had begun before the blacklisting is followed by one more, at most 200 ms (its gathering) and a
            // write after the first one's commit. The commit files tell, on disk, as a process that dies sees them.
            await Eventually.WaitAsync(
                () => blacklistedIn.All(policy => LastCommit(Path.Combine(app.DataDirectory, policy, "journal")) is var last && last > bannedAt && DateTime.UtcNow - last > TimeSpan.FromMilliseconds(500)),
                "the journals' commits after the blacklisting",
                TimeSpan.FromSeconds(30));
            app.Restart();
            await app.WaitUntilReadyAsync();
            Assert.Equal(HttpStatusCode.TooManyRequests, (await app.ClientFrom(2).GetAsync("/items")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await app.ClientFrom(4).GetAsync("/items")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await app.ClientFrom(5).GetAsync("/items")).StatusCode);
            Assert.DoesNotContain("Exception", app.Output, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [GeneratedRegex(@"warning (IL\d{4}:[^\[\r\n]*)")]
    private static partial Regex WarningLine();

    private static async Task<(int Exit, string Output)> RunAsync(string file, string arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>When the journal in <paramref name="journal"/> last wrote a commit record; MinValue before any.</summary>
    private static DateTime LastCommit(string journal)
    {
        string commits = Path.Combine(journal, "log-commits");
        return Directory.Exists(commits)
            ? Directory.GetFiles(commits).Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.MinValue).Max()
            : DateTime.MinValue;
    }
}
