using System.Buffers.Binary;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Floodgate.AspNetCore.Challenge;

/// <summary>What became of an answer to a challenge.</summary>
internal enum ChallengeOutcome
{
    Solved,
    Malformed,
    Forged,
    Expired,
    WrongClient,
    NotOffered,
    Replayed,
    NotSolved,
    NoPassesLeft,
    Refused,
}

/// <summary>
/// Issues and verifies proof-of-work challenges: a token is HMAC-SHA256-signed and carries the policy, the client
/// key, an expiry, a random nonce and the difficulty; an answer is a counter such that SHA-256("token:counter") starts
/// with that many zero bits. Each token is accepted once; each client earns a bounded number of passes an hour.
/// </summary>
internal sealed class ChallengeService
{
    private const byte Version = 1;
    private const int PayloadBytes = 1 + 1 + 8 + 16 + 8 + 16;   // version, difficulty, policy id, client, expires (ms), nonce
    private const int TokenBytes = PayloadBytes + 32;
    private const int MaxTracked = 100_000;                      // bounded memory for used tokens and pass counts

    private static readonly System.Buffers.SearchValues<char> s_base64Url = System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly FloodgateChallengeOptions _options;
    private readonly ConcurrentDictionary<UInt128, long> _used = new();                              // nonce → expiry (ms)
    private readonly ConcurrentDictionary<(ulong Policy, IpKey Client), PassWindow> _passes = new();
    private readonly Dictionary<ulong, string> _policies;
    private readonly HashSet<string> _keyed;   // policies counted by a key (an API key): a pass frees an address, not a key

    private readonly System.Diagnostics.Metrics.Counter<long> _counted;
    private readonly Microsoft.Extensions.Logging.ILogger _logger;

    public ChallengeService(FloodgateOptions options, IEnumerable<string> policies, TimeProvider time,
        System.Diagnostics.Metrics.IMeterFactory? meters = null, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        _options = options.Challenge;
        _time = time;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        // On the factory's one Floodgate meter, created once however many apps share it.
        _counted = FloodgateMeter.Instruments(meters, static meter =>
            meter.CreateCounter<long>("floodgate.challenges", description: "Proof-of-work challenges issued, solved and refused."));
        _policies = policies.ToDictionary(PolicyId);
        _keyed = new HashSet<string>(options.KeysByPolicy.Keys, StringComparer.Ordinal);
        _key = _options.SigningKey is { } key ? Convert.FromBase64String(key) : RandomNumberGenerator.GetBytes(32);
    }

    public int Difficulty => _options.Difficulty;

    private long _issued;
    private long _solved;
    private long _refused;

    /// <summary>Gets how many challenges were issued, solved and refused since the app started (the dashboard shows them).</summary>
    public (long Issued, long Solved, long Refused) Counts => (Volatile.Read(ref _issued), Volatile.Read(ref _solved), Volatile.Read(ref _refused));

    /// <summary>Gets where answers are posted.</summary>
    public string Path => _options.Path;

    /// <summary>Counts and logs a challenge put on a rejection page.</summary>
    public void Issued(string policy, in IpKey client)
    {
        Interlocked.Increment(ref _issued);
        _counted.Add(1, new KeyValuePair<string, object?>("floodgate.challenge.outcome", "issued"), new KeyValuePair<string, object?>("floodgate.limiter", policy));
        AdapterLog.ChallengeIssued(_logger, policy, client.ToString());
    }

    /// <summary>Counts and logs an answer to a challenge.</summary>
    public void Answered(ChallengeOutcome outcome, string? policy, in IpKey client)
    {
        _counted.Add(1, new KeyValuePair<string, object?>("floodgate.challenge.outcome", outcome == ChallengeOutcome.Solved ? "solved" : "refused"),
            new KeyValuePair<string, object?>("floodgate.challenge.reason", outcome.ToString()));
        Interlocked.Increment(ref outcome == ChallengeOutcome.Solved ? ref _solved : ref _refused);
        if (outcome == ChallengeOutcome.Solved)
        {
            AdapterLog.ChallengeSolved(_logger, policy!, client.ToString(), PassesUsed(policy!, client));
        }
        else
        {
            AdapterLog.ChallengeRefused(_logger, client.ToString(), outcome);
        }
    }

    /// <summary>
    /// Whether <paramref name="policy"/> offers the challenge at all: never a policy keyed by an API key or a user, since a
    /// pass lifts an address's block and the key's would stay.
    /// </summary>
    public bool Offers(string policy) => !_keyed.Contains(policy) && (_options.Policies.Count == 0 || _options.Policies.Contains(policy));

    /// <summary>How many passes the client earned under the policy in the last hour.</summary>
    public int PassesUsed(string policy, in IpKey client) =>
        _passes.TryGetValue((PolicyId(policy), client), out PassWindow? window) ? window.Count(NowMs()) : 0;

    /// <summary>Whether the client may still earn a pass under the policy this hour (no challenge is offered otherwise).</summary>
    public bool HasPassesLeft(string policy, in IpKey client) => PassesUsed(policy, client) < _options.MaxPassesPerHour;

    /// <summary>A new signed challenge for the client under the policy, as URL-safe base64.</summary>
    public string Issue(string policy, in IpKey client)
    {
        Span<byte> token = stackalloc byte[TokenBytes];
        token[0] = Version;
        token[1] = (byte)_options.Difficulty;
        BinaryPrimitives.WriteUInt64LittleEndian(token[2..], PolicyId(policy));
        BinaryPrimitives.WriteUInt64LittleEndian(token[10..], client.High);
        BinaryPrimitives.WriteUInt64LittleEndian(token[18..], client.Low);
        BinaryPrimitives.WriteInt64LittleEndian(token[26..], NowMs() + (long)_options.TokenLifetime.TotalMilliseconds);
        RandomNumberGenerator.Fill(token.Slice(34, 16));
        HMACSHA256.HashData(_key, token[..PayloadBytes], token[PayloadBytes..]);
        return Base64Url.EncodeToString(token);
    }

    /// <summary>
    /// Checks an answer from <paramref name="client"/>; on success the token is spent and a pass counted. Never throws
    /// for what a client sends: anything malformed is <see cref="ChallengeOutcome.Malformed"/>.
    /// </summary>
    public ChallengeOutcome Verify(string? tokenText, string? answer, in IpKey client, out string? policy)
    {
        policy = null;
        Span<byte> token = stackalloc byte[TokenBytes];
        // Only valid URL-safe base64 of the right length reaches the decoder (which throws, despite its name, on bad input).
        if (tokenText is null || tokenText.Length > 200 || tokenText.AsSpan().ContainsAnyExcept(s_base64Url) ||
            !Base64Url.IsValid(tokenText, out int decoded) || decoded != TokenBytes ||
            !Base64Url.TryDecodeFromChars(tokenText, token, out int length) || length != TokenBytes ||
            answer is null || answer.Length is 0 or > 20 || !ulong.TryParse(answer, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            return ChallengeOutcome.Malformed;
        }

        // The signature first, in constant time: nothing else of a forged token is looked at.
        Span<byte> expected = stackalloc byte[32];
        HMACSHA256.HashData(_key, token[..PayloadBytes], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, token[PayloadBytes..]) || token[0] != Version)
        {
            return ChallengeOutcome.Forged;
        }

        int difficulty = token[1];
        ulong policyId = BinaryPrimitives.ReadUInt64LittleEndian(token[2..]);
        var issuedTo = new IpKey(BinaryPrimitives.ReadUInt64LittleEndian(token[10..]), BinaryPrimitives.ReadUInt64LittleEndian(token[18..]));
        long expires = BinaryPrimitives.ReadInt64LittleEndian(token[26..]);
        UInt128 nonce = BinaryPrimitives.ReadUInt128LittleEndian(token[34..]);
        long now = NowMs();
        if (now > expires)
        {
            return ChallengeOutcome.Expired;
        }

        if (issuedTo != client)
        {
            return ChallengeOutcome.WrongClient;
        }

        if (!_policies.TryGetValue(policyId, out policy) || !Offers(policy))
        {
            return ChallengeOutcome.NotOffered;
        }

        if (!Solves(tokenText, answer, difficulty))
        {
            return ChallengeOutcome.NotSolved;
        }

        if (!_used.TryAdd(nonce, expires))
        {
            return ChallengeOutcome.Replayed;
        }

        Prune(now);
        PassWindow window = _passes.GetOrAdd((policyId, client), static _ => new PassWindow());
        return window.TryTake(now, _options.MaxPassesPerHour) ? ChallengeOutcome.Solved : ChallengeOutcome.NoPassesLeft;
    }

    /// <summary>The policy's 64-bit id in tokens (the first 8 bytes of SHA-256 of its name).</summary>
    public static ulong PolicyId(string policy)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(policy), hash);
        return BinaryPrimitives.ReadUInt64LittleEndian(hash);
    }

    /// <summary>Whether SHA-256 of "token:answer" (UTF-8) starts with <paramref name="difficulty"/> zero bits.</summary>
    internal static bool Solves(string token, string answer, int difficulty)
    {
        Span<byte> input = stackalloc byte[256];
        int length = Encoding.UTF8.GetBytes(token, input);
        input[length++] = (byte)':';
        length += Encoding.UTF8.GetBytes(answer, input[length..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input[..length], hash);
        return LeadingZeroBits(hash) >= difficulty;
    }

    internal static int LeadingZeroBits(ReadOnlySpan<byte> hash)
    {
        int bits = 0;
        foreach (byte b in hash)
        {
            if (b == 0)
            {
                bits += 8;
                continue;
            }

            return bits + System.Numerics.BitOperations.LeadingZeroCount((uint)b) - 24;
        }

        return bits;
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Forgets spent tokens once they expire, and pass counts older than an hour; bounded either way.</summary>
    private void Prune(long now)
    {
        if (_used.Count > MaxTracked / 2)
        {
            foreach ((UInt128 nonce, long expires) in _used)
            {
                if (expires < now)
                {
                    _used.TryRemove(nonce, out _);
                }
            }
        }

        if (_passes.Count > MaxTracked)
        {
            foreach (((ulong, IpKey) key, PassWindow window) in _passes)
            {
                if (window.Count(now) == 0)
                {
                    _passes.TryRemove(key, out _);
                }
            }
        }
    }

    /// <summary>The times of one client's passes in the last hour.</summary>
    private sealed class PassWindow
    {
        private const long HourMs = 3_600_000;
        private readonly Queue<long> _times = new();

        public int Count(long now)
        {
            lock (_times)
            {
                ForgetOlderThanAnHour(now);
                return _times.Count;
            }
        }

        public bool TryTake(long now, int max)
        {
            lock (_times)
            {
                ForgetOlderThanAnHour(now);
                if (_times.Count >= max)
                {
                    return false;
                }

                _times.Enqueue(now);
                return true;
            }
        }

        private void ForgetOlderThanAnHour(long now)
        {
            while (_times.Count > 0 && now - _times.Peek() >= HourMs)
            {
                _times.Dequeue();
            }
        }
    }
}
