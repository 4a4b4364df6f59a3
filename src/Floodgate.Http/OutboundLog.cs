using Microsoft.Extensions.Logging;

namespace Floodgate;

/// <summary>Log events of outbound limiting (200-202).</summary>
internal static partial class OutboundLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information,
        Message = "Floodgate outbound: {Host} is over its limit; backing off for {Seconds} s.")]
    public static partial void OutboundBackoff(ILogger logger, string host, double seconds);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information,
        Message = "Floodgate outbound: {Host} answered {Status} with Retry-After; backing off for {Seconds} s.")]
    public static partial void OutboundUpstreamBackoff(ILogger logger, string host, int status, double seconds);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning,
        Message = "Floodgate outbound: the backoff of {Host} could not be shared with the other instances ({Error}); it holds in this one.")]
    public static partial void OutboundShareFailed(ILogger logger, string host, string error);
}
