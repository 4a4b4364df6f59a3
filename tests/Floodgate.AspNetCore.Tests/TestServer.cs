using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.AspNetCore.Tests;

/// <summary>A real Kestrel app on 127.0.0.1, and clients whose sockets are bound to distinct loopback addresses.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, int port, FakeTimeProvider time, string contentRoot)
    {
        _app = app;
        Port = port;
        Time = time;
        ContentRoot = contentRoot;
    }

    public int Port { get; }

    public IServiceProvider Services => _app.Services;

    public FakeTimeProvider Time { get; }

    public string ContentRoot { get; }

    /// <summary>Gets or sets a value indicating whether disposing removes the content root (off to restart on it).</summary>
    public bool DeleteContentOnDispose { get; set; } = true;

    public static async Task<TestServer> StartAsync(
        Action<FloodgateOptions> configure,
        Action<WebApplication> map,
        FakeTimeProvider? time = null,
        string? contentRoot = null,
        Dictionary<string, string?>? settings = null,
        Action<IServiceCollection>? services = null,
        ILoggerProvider? logs = null,
        string? unixSocket = null,
        bool generatedPolicies = false)
    {
        time ??= new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        contentRoot ??= Path.Combine(Path.GetTempPath(), "floodgate-app-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(contentRoot);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = contentRoot });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (unixSocket is not null)
        {
            // Connections on a Unix domain socket have no IP address: Kestrel leaves RemoteIpAddress null.
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(IPAddress.Loopback, 0);
                kestrel.ListenUnixSocket(unixSocket);
            });
        }

        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFloodgate(configure);
        if (!generatedPolicies)
        {
            // This assembly declares [FloodgatePolicy] policies (GeneratedPolicyTests): only the tests about them get them.
            builder.Services.AddSingleton(new FloodgatePolicyRegistry());
        }

        services?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        app.UseFloodgate();
        map(app);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
        return new TestServer(app, new Uri(address).Port, time, contentRoot);
    }

    /// <summary>A client whose connections come from 127.0.0.<paramref name="host"/>.</summary>
    public HttpClient ClientFrom(int host) => Client(
        () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{host}"), 0));
            return socket;
        },
        new IPEndPoint(IPAddress.Loopback, Port),
        new Uri($"http://127.0.0.1:{Port}"));

    /// <summary>A client whose connections go through the Unix domain socket at <paramref name="path"/>.</summary>
    public static HttpClient ClientOverUnixSocket(string path) => Client(
        () => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
        new UnixDomainSocketEndPoint(path),
        new Uri("http://localhost"));

    private static HttpClient Client(Func<Socket> open, EndPoint server, Uri baseAddress)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectCallback = async (_, token) =>
            {
                Socket socket = open();
                await socket.ConnectAsync(server, token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = baseAddress };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (!DeleteContentOnDispose)
        {
            return;
        }

        try
        {
            Directory.Delete(ContentRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
