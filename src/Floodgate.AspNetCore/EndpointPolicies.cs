using System.Globalization;
using Floodgate.Internal;
using Microsoft.AspNetCore.Http;

namespace Floodgate.AspNetCore;

/// <summary>
/// An endpoint's policies with the parts of their RateLimit headers computed once: the RateLimit-Policy value is
/// constant, and each RateLimit item only needs its two numbers filled in.
/// </summary>
internal sealed class EndpointPolicies
{
    public static readonly EndpointPolicies None = new([]);

    /// <summary>A <c>[DisableFloodgate]</c> endpoint: no policy, no global guard, no lists.</summary>
    public static readonly EndpointPolicies Disabled = new([]) { IsDisabled = true };

    private readonly string[] _statePrefixes;   // "\"api\";r=" per policy
    private readonly int _maxStateLength;       // the longest RateLimit value these policies can produce

    public EndpointPolicies(
        List<(string Name, FloodgatePolicy Policy, FloodgateLimiter Limiter, IFloodgateRemoteLimiter? Remote, int Cost)> policies,
        Func<string, FloodgateKey>? keyOf = null,
        IReadOnlyDictionary<string, Func<HttpContext, bool>>? predicates = null,
        Func<string, bool>? shadowOf = null,
        TimeSpan jitter = default)
    {
        Jitter = jitter;
        // Shadow (dry-run) policies first: they see every request that reaches this step, refused by an enforced one or not.
        // (OrderBy is stable: each group keeps the endpoint's order.)
        policies = policies.OrderBy(p => shadowOf?.Invoke(p.Name) == true ? 0 : 1).ToList();
        bool[] shadow = policies.Select(p => shadowOf?.Invoke(p.Name) == true).ToArray();
        Shadow = shadow.Any(s => s) ? shadow : null;
        Names = policies.Select(p => p.Name).ToArray();
        CountRule?[] counting = policies.Select(p => CountRule.Of(p.Policy, predicates?.GetValueOrDefault(p.Name))).ToArray();
        Counting = counting.Any(c => c is not null) ? counting : null;
        FloodgateKey?[] keys = policies.Select(p => keyOf?.Invoke(p.Name) is { IsAddress: false } key ? key : null).ToArray();
        Keys = keys.Any(k => k is not null) ? keys : null;
        Costs = policies.Select(p => p.Cost).ToArray();
        Limiters = policies.Select(p => p.Limiter).ToArray();
        Remote = policies.Any(p => p.Remote is not null) ? policies.Select(p => p.Remote!).ToArray() : null;
        _statePrefixes = Names.Select(n => "\"" + n + "\";r=").ToArray();
        _maxStateLength = _statePrefixes.Sum(p => 2 + p.Length + 10 + 3 + 20 + PartitionKeyLength);   // ", ", prefix, a uint, ";t=", a long, ";pk=:…:"
        // A shadow policy is invisible to clients: no RateLimit item of its own.
        PolicyHeader = string.Join(", ", policies.Where((_, i) => !shadow[i]).Select(p =>
            string.Create(CultureInfo.InvariantCulture, $"\"{p.Name}\";q={p.Policy.PermitLimit};w={(long)Math.Ceiling(p.Policy.Window.TotalSeconds)}")));
        HasHeaders = shadow.Any(s => !s);
    }

    /// <summary>Gets which policies are dry runs (shadow: never refuse), or null when none is.</summary>
    public bool[]? Shadow { get; }

    /// <summary>Gets the most seconds added to a client's <c>t</c> (RateLimitResetJitter, as it was when these were resolved).</summary>
    public TimeSpan Jitter { get; }

    /// <summary>Gets whether any policy here sends RateLimit headers (a shadow policy sends none).</summary>
    public bool HasHeaders { get; }

    public int Count => Names.Length;

    /// <summary>Gets whether the endpoint is <c>[DisableFloodgate]</c>: Floodgate does nothing for it.</summary>
    public bool IsDisabled { get; private init; }

    public string[] Names { get; }

    public FloodgateLimiter[] Limiters { get; }

    /// <summary>Gets each policy's key (null: the address), or null when every policy counts addresses.</summary>
    public FloodgateKey?[]? Keys { get; }

    /// <summary>Gets each policy's rule for which answers count (null: every request), or null when every policy counts every request.</summary>
    public CountRule?[]? Counting { get; }

    /// <summary>Gets what one request costs under each policy, in permits.</summary>
    public int[] Costs { get; }

    /// <summary>Gets the shared limiters (Redis), one per policy, or null when the policies are decided in process.</summary>
    public IFloodgateRemoteLimiter[]? Remote { get; }

    /// <summary>The RateLimit-Policy header value, e.g. <c>"api";q=100;w=60</c>.</summary>
    public string PolicyHeader { get; }

    /// <summary>";pk=:" and the base64 of 8 bytes and ":".</summary>
    private const int PartitionKeyLength = 5 + 12 + 1;

    /// <summary>The RateLimit header value of one policy's decision, e.g. <c>"api";r=99;t=60</c>: one allocation.</summary>
    public string StateHeader(Decision decision) => StateHeader(new ReadOnlySpan<Decision>(in decision));

    /// <summary>The RateLimit header value for a request: with the client's share of the jitter, when one is set.</summary>
    public string StateHeader(HttpContext context, ReadOnlySpan<Decision> decisions, ReadOnlySpan<IpKey> keys = default) =>
        StateHeader(decisions, Jitter > TimeSpan.Zero ? RejectionWriter.Jitter(context.Connection.RemoteIpAddress, Jitter) : 0, keys);

    /// <summary>
    /// The RateLimit header value of the first decisions, one item per policy in order: one allocation. <paramref name="jitter"/>
    /// seconds are added to each <c>t</c> (RateLimitResetJitter). A policy counted by a key (an API key) carries it as its
    /// partition key, <c>pk</c>: 8 bytes of the key's keyed hash, which tell a client's keys apart and reveal nothing (an
    /// address-counted policy has none: it would be an identifier of the address).
    /// </summary>
    public string StateHeader(ReadOnlySpan<Decision> decisions, long jitter = 0, ReadOnlySpan<IpKey> keys = default)
    {
        // Formatted once into a stack buffer sized for the longest possible value, then copied into the string.
        Span<char> buffer = _maxStateLength <= 1024 ? stackalloc char[_maxStateLength] : new char[_maxStateLength];
        int length = 0;
        for (int i = 0; i < decisions.Length; i++)
        {
            if (Shadow?[i] == true)
            {
                continue;   // a dry run: not shown to clients
            }

            if (length > 0)
            {
                ", ".CopyTo(buffer[length..]);
                length += 2;
            }

            _statePrefixes[i].CopyTo(buffer[length..]);
            length += _statePrefixes[i].Length;
            ((uint)decisions[i].Remaining).TryFormat(buffer[length..], out int written, default, CultureInfo.InvariantCulture);
            length += written;
            ";t=".CopyTo(buffer[length..]);
            length += 3;
            (RejectionWriter.Seconds(decisions[i].ResetAfter) + jitter).TryFormat(buffer[length..], out written, default, CultureInfo.InvariantCulture);
            length += written;
            if (i < keys.Length && keys[i].IsKeyHash)
            {
                length += PartitionKey(keys[i], buffer[length..]);
            }
        }

        return new string(buffer[..length]);
    }

    /// <summary>Writes <c>;pk=:…:</c> for a key hash (8 of its bytes in base64); out of line, off the common loop.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static int PartitionKey(IpKey key, Span<char> into)
    {
        Span<byte> bytes = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, key.Low);
        ";pk=:".CopyTo(into);
        Convert.TryToBase64Chars(bytes, into[5..], out int written);
        into[5 + written] = ':';
        return 5 + written + 1;
    }
}

/// <summary>Which finished requests a policy counts: a status set (<c>CountStatusCodes</c>) or the app's predicate (<c>CountWhen</c>).</summary>
internal sealed class CountRule
{
    private readonly StatusCodeSet? _codes;
    private readonly Func<HttpContext, bool>? _predicate;

    private CountRule(StatusCodeSet? codes, Func<HttpContext, bool>? predicate)
    {
        _codes = codes;
        _predicate = predicate;
    }

    /// <summary>The policy's rule: the predicate if the app set one, else its status set; null when every request counts.</summary>
    public static CountRule? Of(FloodgatePolicy policy, Func<HttpContext, bool>? predicate) =>
        predicate is not null ? new CountRule(null, predicate)
        : StatusCodeSet.TryParse(policy.CountStatusCodes, out StatusCodeSet? codes) ? new CountRule(codes, null)
        : null;

    /// <summary>Whether the finished request counts; <paramref name="threw"/>: the endpoint threw (a status set reads it as 500).</summary>
    public bool Counts(HttpContext context, bool threw)
    {
        if (_codes is not null)
        {
            return _codes.Contains(threw ? StatusCodes.Status500InternalServerError : context.Response.StatusCode);
        }

        if (threw)
        {
            return false;
        }

        try
        {
            return _predicate!(context);
        }
#pragma warning disable CA1031 // The app's predicate must not fail the request after its answer: the request counts (the safe side).
        catch (Exception)
#pragma warning restore CA1031
        {
            return true;
        }
    }
}
