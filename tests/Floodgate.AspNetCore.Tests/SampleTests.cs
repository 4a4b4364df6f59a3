using System.Net;
using Floodgate.Tests.Shared;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The sample run as its own process: its probe exemption is safe whether or not a secret is configured.</summary>
public sealed class SampleTests
{
    private const string Secret = "sample-test-probe-key-7f3a9c2e1b5d4f60a8e2c7b3";

    [Fact]
    public async Task WithoutAProbeKeyNobodyIsExemptWhateverTheySend()
    {
        using var sample = new SampleProcess();
        await sample.WaitUntilReadyAsync();

        // The old sample's shipped value, no header, an empty header: all limited at 3 per minute.
        Assert.Equal(3, await AllowedLoginsAsync(sample, 2, "change-me"));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 3, null));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 4, string.Empty));
    }

    [Fact]
    public async Task AConfiguredProbeKeyExemptsOnlyItsExactHolder()
    {
        using var sample = new SampleProcess(new Dictionary<string, string> { ["ProbeKey"] = Secret });
        await sample.WaitUntilReadyAsync();

        Assert.Equal(6, await AllowedLoginsAsync(sample, 2, Secret));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 3, null));
        Assert.Equal(3, await AllowedLoginsAsync(sample, 4, Secret[..^1] + "x"));   // one character off
        Assert.Equal(3, await AllowedLoginsAsync(sample, 5, Secret + "x"));          // a prefix match is no match
        Assert.Equal(3, await AllowedLoginsAsync(sample, 6, Secret, twice: true));    // two headers: not a probe
        Assert.Equal(3, await AllowedLoginsAsync(sample, 7, string.Empty));
    }

    [Theory]
    [InlineData("short-secret")]
    [InlineData("change-me")]
    public async Task AShortProbeKeyStopsTheSampleAtStartNamingIt(string secret)
    {
        using var sample = new SampleProcess(new Dictionary<string, string> { ["ProbeKey"] = secret });
        Assert.True(await sample.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the sample should refuse to start");
        Assert.NotEqual(0, sample.ExitCode);
        Assert.Contains($"ProbeKey must be at least 32 characters (a random secret); got one of {secret.Length}.", sample.Output);
        Assert.DoesNotContain(secret + " ", sample.Output);   // the secret itself is not printed
    }

    [Fact]
    public void TheRepositoryShipsNoProbeKey()
    {
        string settings = File.ReadAllText(Path.Combine(SampleProcess.Directory, "appsettings.json"));
        Assert.DoesNotContain("ProbeKey", settings);
    }

    private static async Task<int> AllowedLoginsAsync(SampleProcess sample, int host, string? probeKey, bool twice = false)
    {
        using HttpClient client = sample.ClientFrom(host);
        int allowed = 0;
        for (int i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/login");
            if (probeKey is not null)
            {
                request.Headers.TryAddWithoutValidation("X-Probe-Key", twice ? [probeKey, probeKey] : [probeKey]);
            }

            using HttpResponseMessage response = await client.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {response.StatusCode}");
            allowed += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        return allowed;
    }
}
