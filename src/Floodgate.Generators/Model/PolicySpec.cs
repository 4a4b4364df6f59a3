namespace Floodgate.Generators.Model;

/// <summary>One policy as declared by a [FloodgatePolicy] attribute, its durations in milliseconds (-1: none or forever).</summary>
internal sealed record PolicySpec(
    string Name,
    string TypeName,
    int PermitLimit,
    long WindowMs,
    long BlockDurationMs,
    bool RelativeBlock,
    int BlockLimit,
    long BlockExceedMs,
    bool BlockExceedReset,
    long MaxWindowMs,
    bool AccumulateRequests,
    int AccumulateLimit,
    long CooldownMs,
    int GracePermits,
    double BlockMultiplier,
    long MaxBlockMs,
    int MaxClientsPerPrefix,
    int Algorithm,
    int Burst,
    string? CountStatusCodes,
    int Mode,
    LocationInfo? Location);
