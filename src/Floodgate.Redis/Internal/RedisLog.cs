using Microsoft.Extensions.Logging;

namespace Floodgate.Redis.Internal;

/// <summary>Floodgate.Redis log messages, with stable event ids (300-399).</summary>
internal static partial class RedisLog
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Error,
        Message = "Floodgate policy '{Policy}': Redis failed {Failures} times in a row ({Reason}); circuit breaker open, checks follow the outage policy {OutagePolicy} and Redis is probed every {ProbeMs} ms.")]
    public static partial void BreakerOpened(ILogger logger, string policy, int failures, string reason, RedisOutagePolicy outagePolicy, long probeMs);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information,
        Message = "Floodgate policy '{Policy}': Redis answers again; circuit breaker closed, checks are shared again.")]
    public static partial void BreakerClosed(ILogger logger, string policy);

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning,
        Message = "Floodgate policy '{Policy}': a check failed on Redis ({Reason}); decided by the outage policy {OutagePolicy} ({Omitted} more since the last such line, at most one a minute).")]
    public static partial void CheckFailed(ILogger logger, string policy, string reason, RedisOutagePolicy outagePolicy, int omitted);

    [LoggerMessage(EventId = 403, Level = LogLevel.Information,
        Message = "Floodgate policy '{Policy}': the server did not have the script (NOSCRIPT, after a restart, failover or SCRIPT FLUSH); sent it in full.")]
    public static partial void ScriptReloaded(ILogger logger, string policy);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning,
        Message = "Floodgate policy '{Policy}': could not re-read local bans from Redis ({Reason}); trying again every {IntervalMs} ms ({Omitted} more since the last such line, at most one a minute).")]
    public static partial void BanSyncFailed(ILogger logger, string policy, string reason, long intervalMs, int omitted);

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning,
        Message = "Floodgate: could not subscribe to the ban channel '{Channel}' ({Reason}); other instances' unblocks reach this one by the periodic ban sync only.")]
    public static partial void SubscribeFailed(ILogger logger, string channel, string reason);

    [LoggerMessage(EventId = 406, Level = LogLevel.Debug,
        Message = "Floodgate policy '{Policy}': ban sync corrected {Corrected} of {Checked} local bans.")]
    public static partial void BanSyncCorrected(ILogger logger, string policy, int corrected, int @checked);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning,
        Message = "Floodgate policy '{Policy}': a batched exchange with Redis failed ({Reason}); the permits of {Clients} clients are sent with the next one ({Omitted} more since the last such line, at most one a minute).")]
    public static partial void ExchangeFailed(ILogger logger, string policy, string reason, int clients, int omitted);
}
