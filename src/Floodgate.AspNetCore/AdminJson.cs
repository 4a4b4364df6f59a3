using System.Text.Json.Serialization;

namespace Floodgate.AspNetCore;

/// <summary>
/// One client's state under one policy, as the admin endpoints show it: <c>client</c> is an address or a key hash's
/// fingerprint (<c>key:1a2b3c4d</c>); <c>id</c> names it for the operations (an address, or the key hash in full).
/// </summary>
internal sealed record ClientView(
    string Client,
    string Id,
    bool Tracked,
    bool WindowActive,
    int Count,
    int Remaining,
    double ResetAfterSeconds,
    bool Blocked,
    bool Punished,
    bool Blacklisted,
    DateTimeOffset? BlockExpiresAt,
    int BlockCount,
    bool Allowlisted,
    bool Denylisted,
    int ChallengePasses = 0);

/// <summary>The policies under which an unblock took effect.</summary>
internal sealed record UnblockedResult(List<string> Unblocked);

/// <summary>The policies under which a blacklisting took effect.</summary>
internal sealed record BlacklistedResult(List<string> Blacklisted);

/// <summary>The policies under which an unblacklisting took effect.</summary>
internal sealed record UnblacklistedResult(List<string> Unblacklisted);

/// <summary>Whether a list entry was added to at least one policy's list.</summary>
internal sealed record AddedResult(bool Added);

/// <summary>Whether a list entry was removed from at least one policy's list.</summary>
internal sealed record RemovedResult(bool Removed);

/// <summary>The admin endpoints' bodies, serialized by generated code (no reflection: trimming- and Native-AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Dictionary<string, ClientView>))]
[JsonSerializable(typeof(Dictionary<string, List<ClientView>>))]
[JsonSerializable(typeof(UnblockedResult))]
[JsonSerializable(typeof(BlacklistedResult))]
[JsonSerializable(typeof(UnblacklistedResult))]
[JsonSerializable(typeof(AddedResult))]
[JsonSerializable(typeof(RemovedResult))]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class AdminJson : JsonSerializerContext;
