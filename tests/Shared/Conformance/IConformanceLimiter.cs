using System.Net;

namespace Floodgate.Tests.Shared.Conformance;

/// <summary>A limiter as <see cref="PolicyConformanceTests"/> drives it: checks, <c>Inspect</c> and operator operations.</summary>
public interface IConformanceLimiter : IAsyncDisposable
{
    ValueTask<Decision> CheckAsync(IPAddress client, int cost);

    Task<ClientState> InspectAsync(IPAddress client);

    Task<bool> UnblockAsync(IPAddress client);

    Task<bool> BlacklistAsync(IPAddress client);
}

/// <summary>An in-process <see cref="FloodgateLimiter"/> (runtime or generated) under the conformance suite.</summary>
public sealed class InProcessConformanceLimiter(FloodgateLimiter limiter) : IConformanceLimiter
{
    public ValueTask<Decision> CheckAsync(IPAddress client, int cost) => ValueTask.FromResult(limiter.Check(client, cost));

    public Task<ClientState> InspectAsync(IPAddress client) => Task.FromResult(limiter.Inspect(client));

    public Task<bool> UnblockAsync(IPAddress client) => Task.FromResult(limiter.Unblock(client));

    public Task<bool> BlacklistAsync(IPAddress client) => Task.FromResult(limiter.Blacklist(client));

    public ValueTask DisposeAsync()
    {
        limiter.Dispose();
        return ValueTask.CompletedTask;
    }
}
