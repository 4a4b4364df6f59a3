namespace Floodgate;

/// <summary>Which answers of an endpoint with policies carry the <c>RateLimit-Policy</c> and <c>RateLimit</c> headers.</summary>
public enum FloodgateRateLimitHeaders
{
    /// <summary>Every answer, allowed or rejected (the default): clients can pace themselves before they hit a limit.</summary>
    Always = 0,

    /// <summary>
    /// Only rejections (429 and 403): allowed answers tell nothing about the quota and cost less to write (in a
    /// hello-world server the two headers are about half of Floodgate's cost). <c>Retry-After</c> is unaffected.
    /// </summary>
    OnRejection = 1,

    /// <summary>Never; rejections still carry <c>Retry-After</c>.</summary>
    Never = 2,
}
