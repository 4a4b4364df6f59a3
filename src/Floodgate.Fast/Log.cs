using Microsoft.Extensions.Logging;

namespace Floodgate;

/// <summary>Floodgate's log messages, with stable event ids.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Error,
        Message = "Floodgate could not write checkpoint {Sequence} to '{Directory}': {Reason}. Checks go on; state since the last checkpoint would be lost in a crash.")]
    public static partial void CheckpointFailed(ILogger logger, long sequence, string directory, string reason, Exception exception);

    [LoggerMessage(EventId = 101, Level = LogLevel.Error,
        Message = "Floodgate checkpoint {Sequence} in '{Directory}' is unusable ({Reason}); trying an older one.")]
    public static partial void CheckpointUnusable(ILogger logger, long sequence, string directory, string reason, Exception exception);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error,
        Message = "Floodgate found {Damaged} checkpoint(s) in '{Directory}' and none usable: starting with an empty state.")]
    public static partial void NoUsableCheckpoint(ILogger logger, int damaged, string directory);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information,
        Message = "Floodgate recovered {Clients} clients and {ListEntries} list entries from checkpoint {Sequence} in '{Directory}' in {ElapsedMs} ms.")]
    public static partial void Recovered(ILogger logger, int clients, int listEntries, long sequence, string directory, long elapsedMs);

    [LoggerMessage(EventId = 104, Level = LogLevel.Debug,
        Message = "Floodgate wrote checkpoint {Sequence} of {Records} records to '{Directory}' in {ElapsedMs} ms.")]
    public static partial void CheckpointWritten(ILogger logger, long sequence, int records, string directory, long elapsedMs);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning,
        Message = "Floodgate could not restore {Dropped} recovered clients: no slot for them in a table of {Capacity}. Increase FloodgateLimiterOptions.Capacity.")]
    public static partial void RestoreDropped(ILogger logger, int dropped, int capacity);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information,
        Message = "Floodgate replayed {Records} ban journal records written after the checkpoint, from '{Directory}'.")]
    public static partial void JournalReplayed(ILogger logger, int records, string directory);

    [LoggerMessage(EventId = 107, Level = LogLevel.Error,
        Message = "Floodgate could not write the ban journal in '{Directory}' ({Error}); a checkpoint is taken now instead.")]
    public static partial void JournalWriteFailed(ILogger logger, string directory, string error);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning,
        Message = "Floodgate's ban journal in '{Directory}' has {Count} damaged records (a torn write at a crash?): {Reason}. The rest was applied.")]
    public static partial void JournalDamaged(ILogger logger, string directory, int count, string reason);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning,
        Message = "Floodgate's ban journal queue ({Capacity} bans) filled between two writes in '{Directory}'; a checkpoint is taken now to keep them.")]
    public static partial void JournalOverflow(ILogger logger, int capacity, string directory);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning,
        Message = "Floodgate could not open the ban journal in '{Directory}' ({Error}); it was moved to '{Aside}' and a new one started.")]
    public static partial void JournalUnreadable(ILogger logger, string directory, string aside, string error);
}
