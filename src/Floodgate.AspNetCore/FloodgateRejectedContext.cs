using Microsoft.AspNetCore.Http;

namespace Floodgate;

/// <summary>A rejected request, passed to <see cref="FloodgateOptions.OnRejected"/>.</summary>
public sealed class FloodgateRejectedContext
{
    internal FloodgateRejectedContext(HttpContext httpContext, string policy, Decision decision)
    {
        HttpContext = httpContext;
        Policy = policy;
        Decision = decision;
    }

    /// <summary>Gets the request's context; the status code and headers are already set.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Gets the name of the policy that rejected the request (<c>global</c> for the global limit).</summary>
    public string Policy { get; }

    /// <summary>Gets the decision.</summary>
    public Decision Decision { get; }

    /// <summary>Gets or sets a value indicating whether the hook wrote the response, so Floodgate writes no body.</summary>
    public bool Handled { get; set; }
}
