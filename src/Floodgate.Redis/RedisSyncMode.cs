namespace Floodgate;

/// <summary>How a policy shared through Redis counts: a round trip per request, or in process with a batched exchange.</summary>
public enum RedisSyncMode
{
    /// <summary>Every check is one script on Redis: exact across instances, one round trip per request (the default).</summary>
    Exact,

    /// <summary>
    /// Checks are decided in process; every <see cref="FloodgateRedisOptions.SyncInterval"/> each instance sends what its
    /// clients spent and takes their totals. A client near its limit is checked on Redis. All instances together may admit
    /// a little more than the limit, bounded by <see cref="FloodgateRedisOptions.BatchedShare"/> (see docs/scale-out.md).
    /// </summary>
    Batched,
}
