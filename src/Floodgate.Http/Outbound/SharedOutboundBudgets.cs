namespace Floodgate;

/// <summary>
/// A store that shares outbound budgets between app instances (Floodgate.Redis provides one through
/// <c>FloodgateOutboundOptions.UseRedis</c>). The in-process limiter of each host policy stays: it answers hosts known
/// to be in backoff without a round trip and decides while the store is unavailable.
/// </summary>
internal interface IOutboundStore : IAsyncDisposable
{
    /// <summary>The in-process policy that backs <paramref name="policy"/> locally (its outage share).</summary>
    FloodgatePolicy LocalPolicy(FloodgatePolicy policy);

    /// <summary>The shared budget of one host policy, with <paramref name="local"/> (built from <see cref="LocalPolicy"/>) as its local table.</summary>
    IOutboundBudget Create(string name, FloodgatePolicy policy, FloodgateLimiter local);
}

/// <summary>One host policy's shared budgets.</summary>
internal interface IOutboundBudget : IAsyncDisposable
{
    /// <summary>Takes a permit from the budget <paramref name="budget"/> (host, port) and <paramref name="partition"/>; never throws because of the store.</summary>
    ValueTask<Decision> CheckAsync(IpKey key, string budget, string? partition, CancellationToken cancellationToken);

    /// <summary>Puts the budget into backoff for at least <paramref name="duration"/>, for every instance.</summary>
    Task<bool> BlockForAsync(IpKey key, string budget, string? partition, TimeSpan duration);
}
