using Microsoft.Extensions.Logging;

namespace Floodgate.AspNetCore;

/// <summary>The adapter's log messages, with stable event ids (the core's persistence events are 100-105).</summary>
internal static partial class AdapterLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "Floodgate {Policy}: {Client} {Reason} (remaining {Remaining}).")]
    public static partial void Decision(ILogger logger, string policy, string client, DecisionReason reason, int remaining);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Floodgate {Policy}: {Client} {Kind} (block {BlockCount}, until {ExpiresAt}).")]
    public static partial void ClientBlocked(ILogger logger, string policy, string client, FloodgateEventKind kind, int blockCount, DateTimeOffset? expiresAt);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "Floodgate {Policy}: {Client} blacklisted after {BlockCount} blocks.")]
    public static partial void ClientBlacklisted(ILogger logger, string policy, string client, int blockCount);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning,
        Message = "Forwarded headers are enabled with KnownProxies and KnownNetworks cleared: any client can choose the address Floodgate limits. Trust only your proxies.")]
    public static partial void ForwardedHeadersTrustEveryone(ILogger logger);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Floodgate {Policy}: its custom key threw ({Error}); the request is counted by its address.")]
    public static partial void CustomKeyFailed(ILogger logger, string policy, string error);

    [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "Floodgate: keyed policies {Policies} hash their keys with the secret from {Source}.")]
    public static partial void KeySecretSource(ILogger logger, string policies, string source);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "Floodgate {Policy} (shadow): {Client} would be refused: {Reason}.")]
    public static partial void ShadowRefusal(ILogger logger, string policy, string client, DecisionReason reason);

    [LoggerMessage(EventId = 307, Level = LogLevel.Information, Message = "Floodgate {Policy} (shadow): {Client} would be {Kind} (block {BlockCount}, until {ExpiresAt}).")]
    public static partial void ShadowStateChange(ILogger logger, string policy, string client, FloodgateEventKind kind, int blockCount, DateTimeOffset? expiresAt);

    [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "Floodgate policy '{Policy}' is defined both in configuration (Floodgate:Policies:{Policy}) and in code (AddPolicy): the code's definition applies; its Key and Costs from configuration still do.")]
    public static partial void DefinedTwice(ILogger logger, string policy);

    [LoggerMessage(EventId = 309, Level = LogLevel.Warning, Message = "Floodgate: the challenge is enabled but off: Redis shares state, and passes are granted in this process's tables only. Turn Floodgate:Challenge:Enabled off, or run without Redis.")]
    public static partial void ChallengeOffWithRedis(ILogger logger);

    [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "Floodgate configuration reloaded: {Changes}.")]
    public static partial void Reloaded(ILogger logger, string changes);

    [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Floodgate configuration change refused; the running configuration stays: {Errors}")]
    public static partial void ReloadRefused(ILogger logger, string errors);

    [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "Floodgate: {Setting} changed in configuration ({Running} -> {Configured}); it is read at startup only, so the running value stays until the next start.")]
    public static partial void ReloadStartupOnly(ILogger logger, string setting, string running, string configured);

    [LoggerMessage(EventId = 320, Level = LogLevel.Debug, Message = "Floodgate {Policy}: challenge issued to {Client}.")]
    public static partial void ChallengeIssued(ILogger logger, string policy, string client);

    [LoggerMessage(EventId = 321, Level = LogLevel.Information, Message = "Floodgate {Policy}: {Client} solved a challenge; its block is lifted and a fresh window opened ({Passes} passes this hour).")]
    public static partial void ChallengeSolved(ILogger logger, string policy, string client, int passes);

    [LoggerMessage(EventId = 322, Level = LogLevel.Information, Message = "Floodgate: a challenge answer from {Client} was refused: {Outcome}.")]
    public static partial void ChallengeRefused(ILogger logger, string client, Floodgate.AspNetCore.Challenge.ChallengeOutcome outcome);
}
