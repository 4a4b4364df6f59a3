using System.Globalization;

namespace Floodgate.AspNetCore;

/// <summary>
/// An endpoint's policies with the parts of their RateLimit headers computed once: the RateLimit-Policy value is
/// constant, and each RateLimit item only needs its two numbers filled in.
/// </summary>
internal sealed class EndpointPolicies
{
    public static readonly EndpointPolicies None = new([]);

    private readonly string[] _statePrefixes;   // "\"api\";r=" per policy

    public EndpointPolicies(List<(string Name, FloodgatePolicy Policy, FloodgateLimiter Limiter, IFloodgateRemoteLimiter? Remote)> policies)
    {
        Names = policies.Select(p => p.Name).ToArray();
        Limiters = policies.Select(p => p.Limiter).ToArray();
        Remote = policies.Any(p => p.Remote is not null) ? policies.Select(p => p.Remote!).ToArray() : null;
        _statePrefixes = Names.Select(n => "\"" + n + "\";r=").ToArray();
        PolicyHeader = string.Join(", ", policies.Select(p =>
            string.Create(CultureInfo.InvariantCulture, $"\"{p.Name}\";q={p.Policy.PermitLimit};w={(long)Math.Ceiling(p.Policy.Window.TotalSeconds)}")));
    }

    public int Count => Names.Length;

    public string[] Names { get; }

    public FloodgateLimiter[] Limiters { get; }

    /// <summary>Gets the shared limiters (Redis), one per policy, or null when the policies are decided in process.</summary>
    public IFloodgateRemoteLimiter[]? Remote { get; }

    /// <summary>The RateLimit-Policy header value, e.g. <c>"api";q=100;w=60</c>.</summary>
    public string PolicyHeader { get; }

    /// <summary>The RateLimit header value of one policy's decision, e.g. <c>"api";r=99;t=60</c>: one allocation of the exact size.</summary>
    public string StateHeader(Decision decision)
    {
        var parts = new StateParts(_statePrefixes[0], (uint)decision.Remaining, (ulong)RejectionWriter.Seconds(decision.ResetAfter));
        return string.Create(parts.Prefix.Length + Digits(parts.Remaining) + 3 + Digits(parts.Reset), parts, s_writeState);
    }

    private static readonly System.Buffers.SpanAction<char, StateParts> s_writeState = static (span, parts) =>
    {
        parts.Prefix.CopyTo(span);
        span = span[parts.Prefix.Length..];
        parts.Remaining.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
        ";t=".CopyTo(span[written..]);
        parts.Reset.TryFormat(span[(written + 3)..], out _, default, CultureInfo.InvariantCulture);
    };

    private static int Digits(ulong value)
    {
        int digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }

    private readonly record struct StateParts(string Prefix, uint Remaining, ulong Reset);

    /// <summary>The RateLimit header value of several decisions, one item per policy: one allocation of the exact size.</summary>
    public string StateHeader(ReadOnlySpan<Decision> decisions)
    {
        var state = new MultiState(_statePrefixes, decisions);
        int length = 0;
        for (int i = 0; i < decisions.Length; i++)
        {
            length += (i == 0 ? 0 : 2) + _statePrefixes[i].Length + Digits((uint)decisions[i].Remaining) + 3
                + Digits((ulong)RejectionWriter.Seconds(decisions[i].ResetAfter));
        }

        return string.Create(length, state, s_writeStates);
    }

    private static readonly System.Buffers.SpanAction<char, MultiState> s_writeStates = static (span, state) =>
    {
        for (int i = 0; i < state.Decisions.Length; i++)
        {
            if (i > 0)
            {
                ", ".CopyTo(span);
                span = span[2..];
            }

            string prefix = state.Prefixes[i];
            prefix.CopyTo(span);
            span = span[prefix.Length..];
            ((uint)state.Decisions[i].Remaining).TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
            ";t=".CopyTo(span[written..]);
            span = span[(written + 3)..];
            ((ulong)RejectionWriter.Seconds(state.Decisions[i].ResetAfter)).TryFormat(span, out written, default, CultureInfo.InvariantCulture);
            span = span[written..];
        }
    };

    private readonly ref struct MultiState(string[] prefixes, ReadOnlySpan<Decision> decisions)
    {
        public string[] Prefixes { get; } = prefixes;

        public ReadOnlySpan<Decision> Decisions { get; } = decisions;
    }
}
