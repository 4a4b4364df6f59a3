namespace Floodgate;

/// <summary>Whether a policy's refusals are carried out, or only counted and logged (a dry run).</summary>
public enum FloodgatePolicyMode
{
    /// <summary>Refusals are answered (429, 403): the default.</summary>
    Enforce = 0,

    /// <summary>
    /// A dry run: the policy counts, blocks, escalates and blacklists on its own state, and its would-be refusals are
    /// logged and measured (the <c>floodgate.decisions</c> metric with <c>floodgate.mode</c> = <c>shadow</c>), but the
    /// ASP.NET Core adapter never refuses a request for it nor sends its <c>RateLimit</c> headers. For trying a new or
    /// tighter limit beside the one in force.
    /// </summary>
    Shadow = 1,
}
