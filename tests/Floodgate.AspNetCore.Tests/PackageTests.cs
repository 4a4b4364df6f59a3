using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Xml.Linq;
using Floodgate.Tests.Shared;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// The packages as a new user gets them: packed into a local feed, added by name to a fresh <c>dotnet new web</c> app
/// outside the solution with <c>dotnet add package</c>, and the README's quick start as its Program.cs, which must
/// build (the generator comes with the package) and answer 429.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private static readonly string[] s_packages = ["Floodgate.Fast", "Floodgate.Http", "Floodgate.AspNetCore", "Floodgate.Redis"];
    private readonly string _work = Path.Combine(Path.GetTempPath(), "floodgate-packages-" + Guid.NewGuid().ToString("N"));
    private readonly string _version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..12];
    private Process? _app;

    public void Dispose()
    {
        if (_app is { HasExited: false })
        {
            _app.Kill(entireProcessTree: true);
            _app.WaitForExit();
        }

        _app?.Dispose();
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }

        // The test packages were restored into the global cache under their one-off version: remove them.
        DotnetCli.RemoveFromGlobalCache(_version, s_packages);
    }

    [Fact]
    public async Task AFreshWebAppAddsThePackageByNameAndTheQuickStartAnswers429()
    {
        string feed = Path.Combine(_work, "feed");
        Directory.CreateDirectory(_work);
        foreach (string id in s_packages)
        {
            DotnetCli.Run(["pack", Path.Combine(Repository.Root, "src", id, id + ".csproj"), "-c", Repository.Configuration, "--no-build",
                "-o", feed, $"-p:PackageVersion={_version}"], _work);
        }

        foreach (string id in s_packages)
        {
            AssertPackageIsComplete(feed, id);
        }

        // A fresh app outside the solution (so no Directory.Build.props of ours applies), the package added by name.
        string app = Path.Combine(_work, "app");
        DotnetCli.Run(["new", "web", "-o", app, "--no-restore"], _work);
        DotnetCli.WriteLocalFeedConfig(app, feed);
        DotnetCli.Run(["add", "package", "Floodgate.AspNetCore", "--version", _version], app);
        File.WriteAllText(Path.Combine(app, "Program.cs"), Repository.QuickStart.Code);
        string built = DotnetCli.Run(["build", "-c", "Release"], app);
        Assert.DoesNotContain("warning", built.Split('\n').Where(l => l.Contains("Program.cs", StringComparison.Ordinal)), StringComparer.Ordinal);

        int port = SampleProcess.FreePort();
        var start = new ProcessStartInfo("dotnet", [Path.Combine(app, "bin", "Release", "net10.0", "app.dll")])
        {
            WorkingDirectory = app,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        _app = Process.Start(start)!;
        _app.OutputDataReceived += (_, _) => { };
        _app.ErrorDataReceived += (_, _) => { };
        _app.BeginOutputReadLine();
        _app.BeginErrorReadLine();

        using HttpClient client = SampleProcess.ClientFrom(IPAddress.Parse("127.0.0.2"), port);
        using HttpClient probe = SampleProcess.ClientFrom(IPAddress.Loopback, port);
        await Eventually.WaitAsync(async () =>
        {
            try
            {
                using HttpResponseMessage r = await probe.GetAsync("/missing");   // 404: any answer means it listens
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the quick-start app listening", TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/reports")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/reports")).StatusCode);
        using HttpResponseMessage refused = await client.GetAsync("/reports");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    /// <summary>README, license, repository metadata and symbols in every package; the generator in the engine's, and reaching the app through the others.</summary>
    private void AssertPackageIsComplete(string feed, string id)
    {
        string package = Path.Combine(feed, $"{id}.{_version}.nupkg");
        Assert.True(File.Exists(package), $"no {package}");
        Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.snupkg")), $"no symbols package for {id}");
        using ZipArchive zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("README.md", entries);
        Assert.Contains("LICENSE", entries);
        Assert.Contains($"lib/net10.0/{id}.dll", entries);
        Assert.Contains($"lib/net10.0/{id}.xml", entries);
        Assert.Equal(id == "Floodgate.Fast", entries.Contains("analyzers/dotnet/cs/Floodgate.Generators.dll"));

        using Stream nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        XElement metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.Equal(_version, Value("version"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("README.md", Value("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Value("description")));
        XElement repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? string.Empty);

        // Every dependency on another Floodgate package: the same version, and analyzers not excluded.
        foreach (XElement dependency in metadata.Descendants().Where(e => e.Name.LocalName == "dependency" && e.Attribute("id")!.Value.StartsWith("Floodgate.", StringComparison.Ordinal)))
        {
            Assert.Equal(_version, dependency.Attribute("version")?.Value);
            Assert.DoesNotContain("Analyzers", dependency.Attribute("exclude")?.Value ?? string.Empty, StringComparison.OrdinalIgnoreCase);
        }
    }
}
