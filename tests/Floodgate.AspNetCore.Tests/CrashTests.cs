using System.Diagnostics;
using System.Net;
using Floodgate.Tests.Shared;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The sample (persistence on, its defaults) killed with SIGKILL at random points: every ban older than a second survives.</summary>
public sealed class CrashTests
{
    [Fact]
    public async Task BansIssuedMoreThanASecondBeforeASigkillSurviveIt()
    {
        int seed = Environment.TickCount;
        var random = new Random(seed);
        // The global limit (500/s in the sample) is not what this is about: this test alone sends more than that.
        using var sample = new SampleProcess(new Dictionary<string, string> { ["Floodgate__GlobalLimit__PermitLimit"] = "100000" });
        await sample.WaitUntilReadyAsync();
        for (int round = 0; round < 3; round++)
        {
            // Ban clients one after another (4 logins each: the 4th is refused with a 5-minute block), then kill.
            var killAfter = TimeSpan.FromMilliseconds(random.Next(1_500, 3_500));
            var banned = new List<(IPAddress Client, TimeSpan IssuedAt)>();
            var watch = Stopwatch.StartNew();
            for (int n = 0; watch.Elapsed < killAfter; n++)
            {
                var client = IPAddress.Parse($"127.{20 + round}.{n / 250}.{(n % 250) + 1}");
                using HttpClient http = sample.ClientFrom(client);
                HttpStatusCode last = HttpStatusCode.OK;
                for (int i = 0; i < 4; i++)
                {
                    using HttpResponseMessage response = await http.PostAsync("/login", null);
                    last = response.StatusCode;
                }

                Assert.Equal(HttpStatusCode.TooManyRequests, last);
                banned.Add((client, watch.Elapsed));   // reported as issued: the client was told
            }

            TimeSpan killedAt = watch.Elapsed;
            sample.Kill();
            sample.Restart();
            await sample.WaitUntilReadyAsync();

            var old = banned.Where(b => b.IssuedAt < killedAt - TimeSpan.FromSeconds(1)).ToList();
            Assert.NotEmpty(old);
            var lost = new List<IPAddress>();
            foreach ((IPAddress client, _) in old)
            {
                using HttpClient http = sample.ClientFrom(client);
                using HttpResponseMessage response = await http.PostAsync("/login", null);
                if (response.StatusCode != HttpStatusCode.TooManyRequests)
                {
                    lost.Add(client);
                }
            }

            Assert.True(lost.Count == 0,
                $"round {round} (seed {seed}, killed after {killedAt.TotalMilliseconds:0} ms): {lost.Count} of {old.Count} bans older than 1 s were lost, e.g. {string.Join(", ", lost.Take(5))}");
        }
    }
}
