using System.ComponentModel;

namespace Floodgate;

/// <summary>
/// A store that shares outbound budgets between app instances (Floodgate.Redis provides one through
/// <c>FloodgateOutboundOptions.UseRedis</c>). The in-process limiter of each host policy stays: it answers hosts known
/// to be in backoff without a round trip and decides while the store is unavailable.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IOutboundStore : IFloodgateSharedStore<IOutboundBudget>, IAsyncDisposable;
