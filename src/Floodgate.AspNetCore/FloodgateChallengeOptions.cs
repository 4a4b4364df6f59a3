namespace Floodgate;

/// <summary>
/// A way back for people: a browser refused with 429 (rate-limited, blocked, cooling down) gets a proof-of-work
/// challenge on the page, solved by a short script (SHA-256 in a Web Worker); a solved challenge lifts the block
/// and opens a fresh window, a few times an hour per client. Never for blacklisted or denylisted clients, never
/// for API clients (they get problem+json), never a reset of the block count. Bound from <c>"Floodgate:Challenge"</c>.
/// </summary>
public sealed class FloodgateChallengeOptions
{
    /// <summary>Gets or sets whether rejection pages offer the challenge. <value>The default value is <see langword="false"/>.</value></summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets the work: leading zero bits of SHA-256 the answer must produce (each bit doubles it; see the README
    /// for what it costs a browser). <value>The default value is 16 (about 65,000 hashes).</value>
    /// </summary>
    public int Difficulty { get; set; } = 16;

    /// <summary>Gets or sets how long an issued challenge can be answered. <value>The default value is 5 minutes.</value></summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many passes one client can earn per policy in an hour. <value>The default value is 3.</value></summary>
    public int MaxPassesPerHour { get; set; } = 3;

    /// <summary>Gets or sets the path answers are posted to. <value>The default value is <c>/.floodgate/challenge</c>.</value></summary>
    public string Path { get; set; } = "/.floodgate/challenge";

    /// <summary>Gets the policies that offer the challenge; empty: all of them.</summary>
    public List<string> Policies { get; } = [];

    /// <summary>
    /// Gets or sets the key challenges are signed with (base64, at least 32 bytes). Several instances behind a load
    /// balancer need the same key; keep it out of the repository. <value>The default value is <see langword="null"/>: a random key per process.</value>
    /// </summary>
    public string? SigningKey { get; set; }
}
