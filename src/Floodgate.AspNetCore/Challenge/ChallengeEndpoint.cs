using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Floodgate.AspNetCore.Challenge;

/// <summary>
/// POST {Challenge.Path} with a form <c>token=...&amp;answer=...</c>: verified in constant time against the signature,
/// the expiry, the client, the policy and the work; a spent token is refused; a solved one lifts the client's block
/// and opens a fresh window under the token's policy. Bad input of any kind is a 400, never an exception.
/// </summary>
internal static class ChallengeEndpoint
{
    private const long MaxBodyBytes = 2_048;

    /// <summary>A token and an answer: a handful of short values, never more than the cap in all.</summary>
    private static readonly FormOptions s_formLimits = new()
    {
        BufferBody = false,
        ValueCountLimit = 8,
        KeyLengthLimit = 64,
        ValueLengthLimit = (int)MaxBodyBytes,
        MultipartBodyLengthLimit = MaxBodyBytes,
    };

    /// <summary>Answers a posted solution; a solved one grants a pass in <paramref name="limiters"/>' table of the token's policy.</summary>
    public static async Task AnswerAsync(HttpContext context, ChallengeService challenge, IReadOnlyDictionary<string, FloodgateLimiter> limiters, int ipv6PrefixLength)
    {
        IpKey client = IpKey.Create(context.Connection.RemoteIpAddress, ipv6PrefixLength);
        string? token = null;
        string? answer = null;
        if (context.Request.HasFormContentType && context.Request.ContentLength is null or <= MaxBodyBytes)
        {
            // However the body is sent (a chunked one has no Content-Length): the server stops reading past the cap
            // (where it lets this request set one), and the form reader stops at its own.
            IHttpMaxRequestBodySizeFeature? size = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (size is { IsReadOnly: false })
            {
                size.MaxRequestBodySize = MaxBodyBytes;
            }

            try
            {
                var reader = new FormFeature(context.Request, s_formLimits);
                IFormCollection form = await reader.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
                token = form["token"].Count == 1 ? form["token"][0] : null;
                answer = form["answer"].Count == 1 ? form["answer"][0] : null;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
            {
                // A body that is not a form, or too large: malformed.
            }
        }

        ChallengeOutcome outcome = challenge.Verify(token, answer, client, out string? policy);
        if (outcome == ChallengeOutcome.Solved && !limiters[policy!].GrantPass(in client))
        {
            outcome = ChallengeOutcome.Refused;   // blacklisted since the challenge was issued, or no longer tracked
        }

        challenge.Answered(outcome, policy, client);
        HttpResponse response = context.Response;
        response.Headers.CacheControl = "no-store";
        response.StatusCode = outcome switch
        {
            ChallengeOutcome.Solved => StatusCodes.Status200OK,
            ChallengeOutcome.Malformed => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status403Forbidden,
        };
        response.ContentType = outcome == ChallengeOutcome.Solved ? "application/json" : "application/problem+json";
        var body = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            if (outcome == ChallengeOutcome.Solved)
            {
                json.WriteBoolean("passed", true);
                json.WriteString("policy", policy);
            }
            else
            {
                json.WriteString("type", "about:blank");
                json.WriteString("title", outcome == ChallengeOutcome.Malformed ? "Not a challenge answer" : "Challenge not accepted");
                json.WriteNumber("status", response.StatusCode);
                json.WriteString("detail", Describe(outcome));
            }

            json.WriteEndObject();
        }

        await response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static string Describe(ChallengeOutcome outcome) => outcome switch
    {
        ChallengeOutcome.Malformed => "The request must be a form with one token and one numeric answer.",
        ChallengeOutcome.Forged => "The token was not issued by this site.",
        ChallengeOutcome.Expired => "The challenge expired; reload the page for a new one.",
        ChallengeOutcome.WrongClient => "The challenge was issued to another client.",
        ChallengeOutcome.NotOffered => "The challenge is not offered for this policy.",
        ChallengeOutcome.Replayed => "The challenge was already used.",
        ChallengeOutcome.NotSolved => "The answer does not solve the challenge.",
        ChallengeOutcome.NoPassesLeft => "No more passes this hour; please wait.",
        _ => "The challenge cannot lift this limit.",
    };
}
