using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Floodgate.Tests.Shared;

/// <summary>
/// samples/Floodgate.Sample run as a child process (built beside the test project, which references it without
/// using its assembly): its own port and data directory, settings through the environment, output captured.
/// </summary>
internal sealed class SampleProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string? _executable;
    private Process _process;

    /// <param name="environment">Settings, as environment variables.</param>
    /// <param name="dataDirectory">Floodgate's data directory; a new temporary one by default.</param>
    /// <param name="executable">Another app to run the same way (a native executable); the sample by default.</param>
    public SampleProcess(IReadOnlyDictionary<string, string>? environment = null, string? dataDirectory = null, string? executable = null)
    {
        _executable = executable;
        Port = FreePort();
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "floodgate-sample-" + Guid.NewGuid().ToString("N"));
        Environment = new Dictionary<string, string>(environment ?? new Dictionary<string, string>());
        _process = Start();
    }

    public int Port { get; }

    public string DataDirectory { get; }

    public Dictionary<string, string> Environment { get; }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    /// <summary>Gets everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string Directory
    {
        get
        {
            string configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;   // Release or Debug
            return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "Floodgate.Sample", "bin", configuration, "net10.0"));
        }
    }

    /// <summary>Waits until GET /health answers 200; fails when the process exits first or 30 s pass.</summary>
    public async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            Assert.False(_process.HasExited, $"the sample exited with {(_process.HasExited ? _process.ExitCode : 0)}: {Output}");
            try
            {
                using HttpResponseMessage response = await http.GetAsync($"http://127.0.0.1:{Port}/health");
                if (response.IsSuccessStatusCode)
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

        Assert.Fail("the sample did not answer /health within 30 s: " + Output);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL, as a crash: no shutdown, no final checkpoint.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>Starts the sample again on the same port, data directory and settings (after <see cref="Kill"/>).</summary>
    public void Restart()
    {
        Kill();
        _process.Dispose();
        _process = Start();
    }

    /// <summary>A client whose connections come from 127.0.0.<paramref name="host"/>.</summary>
    public HttpClient ClientFrom(int host) => ClientFrom(IPAddress.Parse($"127.0.0.{host}"));

    public HttpClient ClientFrom(IPAddress source) => ClientFrom(source, Port);

    /// <summary>A client whose connections to 127.0.0.1:<paramref name="port"/> come from <paramref name="source"/>, another loopback address.</summary>
    public static HttpClient ClientFrom(IPAddress source, int port)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        try
        {
            if (System.IO.Directory.Exists(DataDirectory))
            {
                System.IO.Directory.Delete(DataDirectory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Process Start()
    {
        ProcessStartInfo start = _executable is null
            ? new ProcessStartInfo("dotnet", $"\"{Path.Combine(Directory, "Floodgate.Sample.dll")}\"") { WorkingDirectory = Directory }
            : new ProcessStartInfo(_executable) { WorkingDirectory = Path.GetDirectoryName(_executable)! };
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment["Urls"] = $"http://127.0.0.1:{Port}";
        start.Environment["Floodgate__DataDirectory"] = DataDirectory;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["ProbeKey"] = null;
        foreach ((string key, string value) in Environment)
        {
            start.Environment[key] = value;
        }

        Process process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
