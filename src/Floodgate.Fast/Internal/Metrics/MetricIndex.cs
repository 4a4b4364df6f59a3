namespace Floodgate.Internal;

/// <summary>The counters a limiter keeps; at most 16 (one padded stripe of <see cref="FloodgateMetrics"/>).</summary>
internal enum MetricIndex
{
    // Decisions, in DecisionReason order so that a reason maps to its counter by value.
    Allowed = 0,
    Allowlisted,
    RateLimited,
    Cooldown,
    Blocked,
    Blacklisted,
    Denylisted,

    // Events.
    BlocksStarted,
    Punishments,
    Blacklistings,
    Evictions,
    Overflow,
    EventHandlerErrors,
    Checkpoints,
    CheckpointFailures,
    NetworkLimited,

    Count,
}
