using System.ComponentModel;

namespace Floodgate;

/// <summary>One host policy's shared budgets (see <see cref="IOutboundStore"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IOutboundBudget : IAsyncDisposable
{
    /// <summary>Takes a permit from the budget <paramref name="budget"/> (host, port) and <paramref name="partition"/>; never throws because of the store.</summary>
    /// <param name="key">The budget's key.</param>
    /// <param name="budget">The budget: host and port.</param>
    /// <param name="partition">The partition within the budget, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>The decision.</returns>
    ValueTask<Decision> CheckAsync(IpKey key, string budget, string? partition, CancellationToken cancellationToken);

    /// <summary>Puts the budget into backoff for at least <paramref name="duration"/>, for every instance.</summary>
    /// <param name="key">The budget's key.</param>
    /// <param name="budget">The budget: host and port.</param>
    /// <param name="partition">The partition within the budget, or <see langword="null"/>.</param>
    /// <param name="duration">How long.</param>
    /// <returns><see langword="false"/> when the store could not record it (the local table still holds it).</returns>
    Task<bool> BlockForAsync(IpKey key, string budget, string? partition, TimeSpan duration);
}
