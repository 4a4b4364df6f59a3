using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Floodgate.Internal;

namespace Floodgate.Redis.Internal;

/// <summary>
/// The Lua script of one policy: the shared template (Internal/PolicyScript.lua) with the policy's numbers
/// written in as constants, so a check sends only its key and two short arguments. Loaded by SHA-1.
/// </summary>
internal sealed class PolicyScript
{
    private static readonly string s_template = LoadTemplate("Floodgate.Redis.PolicyScript.lua");

    public PolicyScript(FloodgatePolicy policy, TimeSpan foreverRetention)
    {
        var p = new RuntimePolicyParameters(policy);
        Text = Fill(s_template, policy, p, foreverRetention);
#pragma warning disable CA5350 // SHA-1 is what Redis names scripts by (EVALSHA); no security depends on it.
        Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Text));
#pragma warning restore CA5350
        Parameters = p;
    }

    private static string Fill(string template, FloodgatePolicy policy, RuntimePolicyParameters p, TimeSpan foreverRetention)
    {
        string lengths = string.Join(",", PolicyMath.BlockLengths(policy).Select(l => l.ToString(CultureInfo.InvariantCulture)));
        return template
            .Replace("@LENGTHS", lengths, StringComparison.Ordinal)
            .Replace("@KEEP", Number(PolicyMath.ToMilliseconds(foreverRetention)), StringComparison.Ordinal)
            .Replace("@ALG", Number((int)p.Algorithm), StringComparison.Ordinal)
            .Replace("@BURST", Number((long)p.Burst * p.WindowMs), StringComparison.Ordinal)
            .Replace("@RESET", Flag(p.BlockExceedReset), StringComparison.Ordinal)
            .Replace("@ADAPT", Flag(p.AdaptiveBlocks), StringComparison.Ordinal)
            .Replace("@REL", Flag(p.RelativeBlock), StringComparison.Ordinal)
            .Replace("@ACC", Number(p.AccumulateCap), StringComparison.Ordinal)
            .Replace("@BD", Number(p.BlockDurationMs), StringComparison.Ordinal)
            .Replace("@BL", Number(p.BlockLimit), StringComparison.Ordinal)
            .Replace("@BX", Number(p.BlockExceedMs), StringComparison.Ordinal)
            .Replace("@MW", Number(p.MaxWindowMs), StringComparison.Ordinal)
            .Replace("@CD", Number(p.CooldownMs), StringComparison.Ordinal)
            .Replace("@GR", Number(p.GracePermits), StringComparison.Ordinal)
            .Replace("@P", Number(p.PermitLimit), StringComparison.Ordinal)
            .Replace("@W", Number(p.WindowMs), StringComparison.Ordinal);
    }

    /// <summary>Gets the script's source, sent with EVAL when the server does not have it (NOSCRIPT).</summary>
    public string Text { get; }

    /// <summary>Gets the SHA-1 of <see cref="Text"/>, sent with EVALSHA.</summary>
    public byte[] Sha1 { get; }

    /// <summary>Gets the policy's numbers as the script uses them (milliseconds, -1 for none or forever).</summary>
#pragma warning disable SA1401, CA1051 // a field, so that the limiter reads the numbers in place
    public readonly RuntimePolicyParameters Parameters;
#pragma warning restore SA1401, CA1051

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Flag(bool value) => value ? "1" : "0";

    private static string LoadTemplate(string name)
    {
        using Stream stream = typeof(PolicyScript).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Floodgate.Redis is missing its embedded script {name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
