namespace Floodgate;

/// <summary>What <see cref="FloodgateRedisLimiter"/> decides while Redis cannot answer within the timeout.</summary>
/// <remarks>Whatever the policy, clients this instance knows to be blocked or blacklisted stay denied.</remarks>
public enum RedisOutagePolicy
{
    /// <summary>Allow every other request: availability first; nothing is limited during the outage.</summary>
    FailOpen,

    /// <summary>Deny every request with 429 (Retry-After 1 s): protection first; the app serves nobody during the outage.</summary>
    FailClosed,

    /// <summary>
    /// Decide in process with the full policy at <see cref="FloodgateRedisOptions.LocalFallbackShare"/> of its limit
    /// per instance (N instances with share 1/N give about the shared limit). The default.
    /// </summary>
    LocalFallback,
}
