namespace Floodgate;

/// <summary>What happened to a client, in a <see cref="FloodgateEventArgs"/>.</summary>
public enum FloodgateEventKind
{
    /// <summary>The client exceeded the limit and a block was counted (with a duration of 0, it is denied until its window ends).</summary>
    Blocked,

    /// <summary>The client passed the block limit and serves the longer punishment block.</summary>
    Punished,

    /// <summary>The client was blacklisted, by punishment or by an operator.</summary>
    Blacklisted,

    /// <summary>An operator lifted the client's block.</summary>
    Unblocked,

    /// <summary>An operator removed the client from the blacklist.</summary>
    Unblacklisted,
}
