using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Floodgate.Tests.Shared;
using Xunit.Abstractions;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// A flood of distinct clients (each its own loopback source address, 127.x.y.z) through Kestrel into the sample
/// with a small table: memory stays bounded, clients blocked before the flood stay blocked, others are served,
/// nothing throws. CI sends 20,000; <c>bench/flood.sh</c> runs the same test with 100,000 or more.
/// </summary>
public sealed class FloodTests(ITestOutputHelper output)
{
    private const int Capacity = 4096;
    private static readonly byte[] s_login = Encoding.ASCII.GetBytes("POST /login HTTP/1.1\r\nHost: flood\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task AFloodOfDistinctClientsKeepsMemoryBoundedBlocksInPlaceAndOthersServed()
    {
        int clients = int.TryParse(Environment.GetEnvironmentVariable("FLOODGATE_FLOOD_CLIENTS"), CultureInfo.InvariantCulture, out int n) ? n : 20_000;
        using var sample = new SampleProcess(new Dictionary<string, string>
        {
            ["Floodgate__Capacity"] = Capacity.ToString(CultureInfo.InvariantCulture),
            ["Floodgate__GlobalLimit__PermitLimit"] = "1000000",   // the per-client table is under test, not the global guard
            ["Logging__LogLevel__Default"] = "Warning",
        });
        await sample.WaitUntilReadyAsync();

        // Ten clients blocked before the flood (login: the 4th attempt in a minute blocks for five minutes).
        IPAddress[] blocked = Enumerable.Range(1, 10).Select(i => IPAddress.Parse($"127.0.1.{i}")).ToArray();
        foreach (IPAddress client in blocked)
        {
            for (int i = 0; i < 4; i++)
            {
                await SendAsync(sample.Port, client, s_login);
            }

            Assert.Equal(429, await SendAsync(sample.Port, client, s_login));
        }

        // Warm up (JIT, pools) with 2,000 distinct clients, then measure the resident memory before the flood.
        await FloodAsync(sample.Port, 2_000, 200);
        long before = ResidentBytes(sample.ProcessId);

        // The flood, with a bystander asking for /items every 100 ms throughout.
        using var stop = new CancellationTokenSource();
        var bystander = Task.Run(async () =>
        {
            var latencies = new List<double>();
            using HttpClient http = sample.ClientFrom(2);
            while (!stop.IsCancellationRequested)
            {
                var watch = Stopwatch.StartNew();
                using HttpResponseMessage response = await http.GetAsync("/items");
                latencies.Add(watch.Elapsed.TotalMilliseconds);
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"the bystander got {response.StatusCode}");
                await Task.Delay(100);
            }

            return latencies;
        });
        var flood = Stopwatch.StartNew();
        (int ok, int limited, int other) = await FloodAsync(sample.Port, clients, 20_000);
        flood.Stop();
        await stop.CancelAsync();
        List<double> bystanderMs = await bystander;
        long after = ResidentBytes(sample.ProcessId);

        // Clients blocked before the flood are still blocked: the small table kept them while it evicted the flood.
        foreach (IPAddress client in blocked)
        {
            Assert.Equal(429, await SendAsync(sample.Port, client, s_login));
        }

        long growth = after - before;
        bystanderMs.Sort();
        string figures = string.Create(CultureInfo.InvariantCulture,
            $"flood: {clients:N0} distinct clients in {flood.Elapsed.TotalSeconds:0.0} s ({clients / flood.Elapsed.TotalSeconds:N0}/s); " +
            $"answers 200: {ok:N0}, 429: {limited:N0}, other: {other}; resident memory {before >> 20} MiB before, {after >> 20} MiB after " +
            $"(growth {growth / (1 << 20):0.0} MiB; tables: 2 policies x {Capacity} slots x 112 B = {2 * Capacity * 112 >> 10} KiB, preallocated); " +
            $"bystander: {bystanderMs.Count} requests, median {bystanderMs[bystanderMs.Count / 2]:0.0} ms, max {bystanderMs[^1]:0.0} ms");
        output.WriteLine(figures);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "floodgate-flood.txt"), figures + Environment.NewLine);

        Assert.Equal(0, other);
        Assert.Equal(clients, ok + limited);
        Assert.True(growth < 64L << 20, figures);   // the stated bound: 64 MiB over the fixed table, whatever the flood's size
        // The bystander was answered throughout (200 or its own 429, checked as it went). Its latencies are reported
        // above, not bounded: on a loaded machine a time bound fails for the machine's reasons, not Floodgate's.
        Assert.True(bystanderMs.Count >= 3, figures);
        Assert.False(sample.HasExited, "the sample died");
        Assert.DoesNotContain("Exception", sample.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", sample.Output, StringComparison.Ordinal);
    }

    /// <summary>One login from each of <paramref name="count"/> distinct addresses (each in a /24 of its own up to 32,768, from <paramref name="offset"/>), 32 at a time.</summary>
    private static async Task<(int Ok, int Limited, int Other)> FloodAsync(int port, int count, int offset)
    {
        int ok = 0, limited = 0, other = 0, next = -1;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                int id = offset + i;
                // 127.100-227.x.y with the /24 moving fastest (32,768 of them, at most 4 clients each up to 131,072): the
                // table is under test, so no client is held back by its network's MaxClientsPerPrefix.
                var client = new IPAddress(new byte[] { 127, (byte)(100 + ((id >> 8) & 127)), (byte)id, (byte)(1 + (id >> 15)) });
                int status = await SendAsync(port, client, s_login);
                Interlocked.Increment(ref status == 200 ? ref ok : ref status == 429 ? ref limited : ref other);
            }
        })));
        return (ok, limited, other);
    }

    /// <summary>One request on a new connection from <paramref name="source"/>; returns the status code (0 when there was no answer).</summary>
    internal static async Task<int> SendAsync(int port, IPAddress source, byte[] request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await socket.SendAsync(request);
        var buffer = new byte[4096];
        int read = 0;
        while (read < 12)
        {
            int got = await socket.ReceiveAsync(buffer.AsMemory(read));
            if (got == 0)
            {
                break;
            }

            read += got;
        }

        // "HTTP/1.1 200 ..."
        return read >= 12 && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), CultureInfo.InvariantCulture, out int status) ? status : 0;
    }

    private static long ResidentBytes(int processId)
    {
        foreach (string line in File.ReadLines($"/proc/{processId}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS in /proc/" + processId + "/status");
    }
}
