namespace Floodgate;

/// <summary>Why a request was allowed or denied.</summary>
public enum DecisionReason : byte
{
    /// <summary>Allowed and counted against the client's window.</summary>
    Allowed = 0,

    /// <summary>Allowed without counting: the client is on the allowlist.</summary>
    Allowlisted,

    /// <summary>Denied: the window's permits are used up (HTTP 429 until the window ends).</summary>
    RateLimited,

    /// <summary>Denied: the previous allowed request was less than the policy's cooldown ago (HTTP 429, no block counted).</summary>
    Cooldown,

    /// <summary>Denied: the client is serving a block or a punishment (HTTP 429 with the time left).</summary>
    Blocked,

    /// <summary>Denied: the client is blacklisted until an operator removes it (HTTP 403).</summary>
    Blacklisted,

    /// <summary>Denied: the client is on the denylist (HTTP 403).</summary>
    Denylisted,
}
