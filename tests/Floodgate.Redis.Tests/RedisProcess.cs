using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Floodgate.Redis.Tests;

/// <summary>A real redis-server (Debian's package) on a free loopback port, in a directory of its own.</summary>
internal sealed class RedisProcess : IDisposable
{
    private Process? _process;

    public RedisProcess(int? port = null, string? extraArguments = null)
    {
        Port = port ?? FreePort();
        Directory = Path.Combine(Path.GetTempPath(), "floodgate-redis-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        ExtraArguments = extraArguments ?? string.Empty;
        Start();
    }

    public int Port { get; }

    public string Directory { get; }

    public string ExtraArguments { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Start()
    {
        var start = new ProcessStartInfo("redis-server",
            $"--port {Port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode no --dir {Directory} {ExtraArguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start: is it installed (apt-get install redis-server)?");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilAnswering();
    }

    /// <summary>SIGKILL: the server goes away without a word, as in a crash.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    public string Cli(string arguments)
    {
        var start = new ProcessStartInfo("redis-cli", $"-h 127.0.0.1 -p {Port} {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process cli = Process.Start(start)!;
        string output = cli.StandardOutput.ReadToEnd();
        cli.WaitForExit();
        return output.Trim();
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void WaitUntilAnswering()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                using NetworkStream stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var buffer = new byte[16];
                int read = stream.Read(buffer);
                if (read > 0 && buffer[0] == (byte)'+')
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            Thread.Sleep(20);
        }

        throw new InvalidOperationException($"redis-server on port {Port} did not answer within 10 s.");
    }
}

/// <summary>One redis-server for a test class.</summary>
public sealed class RedisFixture : IDisposable
{
    internal RedisProcess Server { get; } = new();

    public string Configuration => Server.Endpoint;

    public void Dispose() => Server.Dispose();
}

/// <summary>A real 3-master Redis Cluster on loopback (no replicas), created with redis-cli --cluster create.</summary>
public sealed class RedisClusterFixture : IDisposable
{
    public RedisClusterFixture()
    {
        int basePort = RedisProcess.FreePort();
        for (int i = 0; i < 3; i++)
        {
            // Cluster bus port = port + 10000: choose ports whose bus ports are free too.
            int port = FreePortWithBus();
            Masters.Add(new RedisProcess(port, "--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000"));
        }

        string nodes = string.Join(" ", Masters.Select(m => m.Endpoint));
        var create = new ProcessStartInfo("redis-cli", $"--cluster create {nodes} --cluster-replicas 0 --cluster-yes")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using (Process cli = Process.Start(create)!)
        {
            string output = cli.StandardOutput.ReadToEnd() + cli.StandardError.ReadToEnd();
            cli.WaitForExit();
            if (cli.ExitCode != 0)
            {
                throw new InvalidOperationException("redis-cli --cluster create failed: " + output);
            }
        }

        WaitUntilClusterOk();
        _ = basePort;
    }

    internal List<RedisProcess> Masters { get; } = [];

    public string Configuration => string.Join(",", Masters.Select(m => m.Endpoint));

    internal void WaitUntilClusterOk()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (Masters.All(m => m.Cli("cluster info").Contains("cluster_state:ok", StringComparison.Ordinal)))
            {
                return;
            }

            Thread.Sleep(100);
        }

        throw new InvalidOperationException("The Redis cluster did not reach cluster_state:ok within 30 s.");
    }

    public void Dispose()
    {
        foreach (RedisProcess master in Masters)
        {
            master.Dispose();
        }
    }

    private static int FreePortWithBus()
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int port = RedisProcess.FreePort();
            if (port + 10000 > 65535)
            {
                continue;
            }

            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }

        throw new InvalidOperationException("No free port pair for a cluster node.");
    }
}
