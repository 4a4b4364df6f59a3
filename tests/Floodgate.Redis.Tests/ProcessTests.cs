using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Floodgate.Redis.Tests;

/// <summary>The sample app run as two separate processes on one redis-server: one limit per client across both.</summary>
public sealed class ProcessTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task TwoAppProcessesEnforceOneLimitExactly()
    {
        string prefix = "proc" + Guid.NewGuid().ToString("N")[..8] + ":";
        using var first = new SampleProcess(redis.Configuration, prefix);
        using var second = new SampleProcess(redis.Configuration, prefix);
        await Task.WhenAll(first.WaitUntilReadyAsync(), second.WaitUntilReadyAsync());

        // "login": 3 per minute, then a 5-minute block. 30 concurrent requests from one client over both processes.
        using HttpClient toFirst = ClientFrom(first.Port, 2);
        using HttpClient toSecond = ClientFrom(second.Port, 2);
        HttpStatusCode[] statuses = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? toFirst : toSecond).PostAsync("/login", null);
            return response.StatusCode;
        }));
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(27, statuses.Count(s => s == HttpStatusCode.TooManyRequests));

        // The block is shared: both processes refuse the client for about five minutes; another client is free.
        foreach (HttpClient client in new[] { toFirst, toSecond })
        {
            using HttpResponseMessage refused = await client.PostAsync("/login", null);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));   // rounded up
        }

        using HttpClient other = ClientFrom(second.Port, 3);
        Assert.Equal(HttpStatusCode.OK, (await other.PostAsync("/login", null)).StatusCode);
    }

    private static HttpClient ClientFrom(int port, int host)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{host}"), 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>samples/Floodgate.Sample as a child process: its own port, its own data directory, Redis on.</summary>
    private sealed class SampleProcess : IDisposable
    {
        private readonly Process _process;
        private readonly string _data = Path.Combine(Path.GetTempPath(), "floodgate-proc-" + Guid.NewGuid().ToString("N"));

        public SampleProcess(string redis, string prefix)
        {
            Port = FreePort();
            string configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;   // Release or Debug
            string directory = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "Floodgate.Sample", "bin", configuration, "net10.0"));
            var start = new ProcessStartInfo("dotnet", $"\"{Path.Combine(directory, "Floodgate.Sample.dll")}\"")
            {
                WorkingDirectory = directory,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["Urls"] = $"http://127.0.0.1:{Port}";
            start.Environment["Floodgate__Redis__Configuration"] = redis;
            start.Environment["Floodgate__Redis__KeyPrefix"] = prefix;
            start.Environment["Floodgate__Redis__Timeout"] = "00:00:05";
            start.Environment["Floodgate__DataDirectory"] = _data;
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Port { get; }

        public async Task WaitUntilReadyAsync()
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                Assert.False(_process.HasExited, $"the sample exited with {(_process.HasExited ? _process.ExitCode : 0)}");
                try
                {
                    if ((await http.GetAsync($"http://127.0.0.1:{Port}/health")).IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }

                await Task.Delay(100);
            }

            Assert.Fail("the sample did not answer /health within 30 s");
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
            if (Directory.Exists(_data))
            {
                Directory.Delete(_data, recursive: true);
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
