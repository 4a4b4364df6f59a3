using Microsoft.AspNetCore.Http;

namespace Floodgate.AspNetCore;

/// <summary>
/// What writing a rejection needs, and nothing else: the response settings of the options (contact, hook, IPv6
/// grouping), the app's problem details service when it registered one, and the challenge when it is on.
/// </summary>
internal sealed class FloodgateRejections(FloodgateOptions options, IProblemDetailsService? problems, Challenge.ChallengeService? challenge, Dashboard.PolicyTallies? tallies = null)
{
    /// <summary>Gets where refusals are tallied for the dashboard (the service's, kept across reloads).</summary>
    public Dashboard.PolicyTallies Tallies { get; } = tallies ?? new();

    /// <summary>Gets the options: <c>Contact</c>, <c>OnRejected</c>, <c>Ipv6PrefixLength</c>.</summary>
    public FloodgateOptions Options { get; } = options;

    /// <summary>Gets the app's problem details service (<c>AddProblemDetails()</c>): rejection bodies go through it.</summary>
    public IProblemDetailsService? Problems { get; } = problems;

    /// <summary>Gets the challenge the HTML page offers, when challenges are enabled.</summary>
    public Challenge.ChallengeService? Challenge { get; } = challenge;
}
