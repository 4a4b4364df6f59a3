using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace Floodgate.AspNetCore;

/// <summary>Statuses, headers and bodies: 429/403/503 with Retry-After, RateLimit headers, problem+json or HTML.</summary>
internal static class RejectionWriter
{
    // The problem types of draft-ietf-httpapi-ratelimit-headers-11 (section 5), each with "violated-policies".
    internal const string QuotaExceededType = "https://iana.org/assignments/http-problem-types#quota-exceeded";
    internal const string AbnormalUsageType = "https://iana.org/assignments/http-problem-types#abnormal-usage-detected";
    internal const string ReducedCapacityType = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity";

    public static int StatusOf(DecisionReason reason) => reason is DecisionReason.Blacklisted or DecisionReason.Denylisted ? 403 : 429;

    /// <summary>Writes a rejection: status, Retry-After, then the hook or a body chosen by content negotiation.</summary>
    public static async Task WriteAsync(HttpContext context, FloodgateRejections rejections, string policyName, Decision decision, int status)
    {
        FloodgateOptions options = rejections.Options;
        IProblemDetailsService? problems = rejections.Problems;
        rejections.Tallies.For(policyName).Refused(IpKey.Create(context.Connection.RemoteIpAddress, options.Ipv6PrefixLength));
        HttpResponse response = context.Response;
        response.StatusCode = status;
        // Whole seconds, plus the client's share of the jitter (RateLimitResetJitter; 0 unless set), as the RateLimit t has.
        long? retryAfter = decision.RetryAfter != TimeSpan.MaxValue ? Seconds(decision.RetryAfter) + Jitter(context.Connection.RemoteIpAddress, options.RateLimitResetJitter) : null;
        if (retryAfter is { } wait)
        {
            response.Headers.RetryAfter = wait.ToString(CultureInfo.InvariantCulture);
        }

        if (options.OnRejected is { } hook)
        {
            var rejected = new FloodgateRejectedContext(context, policyName, decision);
            await hook(rejected).ConfigureAwait(false);
            if (rejected.Handled)
            {
                return;
            }
        }

        string title = decision.Reason switch
        {
            DecisionReason.Blacklisted => "You have been blocked",
            DecisionReason.Denylisted => "Access denied",
            DecisionReason.Blocked => "Too many requests: temporarily blocked",
            _ when status == 503 => "Service busy",
            _ => "Too many requests",
        };
        string detail = retryAfter is not { } after
            ? "Requests from your address are not accepted."
            : $"Please try again in {Describe(after)}.";

        if (PrefersHtml(context.Request))
        {
            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Html(title, detail, options.Contact, status, ChallengeFor(context, rejections, policyName, decision, status))).ConfigureAwait(false);
            return;
        }

        // A limit exceeded: quota-exceeded; a block or blacklisting earned by repeated violations: abnormal-usage-detected;
        // the denylist (an operator's choice, no quota): about:blank, without violated-policies.
        string type = decision.Reason switch
        {
            DecisionReason.RateLimited or DecisionReason.Cooldown => QuotaExceededType,
            DecisionReason.Blocked or DecisionReason.Blacklisted => AbnormalUsageType,
            _ => "about:blank",
        };
        bool violated = type != "about:blank";
        if (problems is not null)
        {
            // The app's problem details service (AddProblemDetails): its customisations (trace ids, extensions) apply.
            var details = new ProblemDetails { Type = type, Title = title, Status = status, Detail = detail };
            if (violated)
            {
                details.Extensions["violated-policies"] = ViolatedPolicies(policyName);
            }

            details.Extensions["policy"] = policyName;
            if (retryAfter is { } seconds)
            {
                details.Extensions["retryAfter"] = seconds;
            }

            if (options.Contact is { } who)
            {
                details.Extensions["contact"] = who;
            }

            if (await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details }).ConfigureAwait(false))
            {
                return;
            }
        }

        // problem+json written with Utf8JsonWriter: no reflection, so it works trimmed and under Native AOT.
        response.ContentType = "application/problem+json";
        var body = new ArrayBufferWriter<byte>(384);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteString("title", title);
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            if (violated)
            {
                json.WriteStartArray("violated-policies");
                json.WriteStringValue(policyName);
                json.WriteEndArray();
            }

            json.WriteString("policy", policyName);
            if (retryAfter is { } seconds)
            {
                json.WriteNumber("retryAfter", seconds);
            }

            if (options.Contact is { } contact)
            {
                json.WriteString("contact", contact);
            }

            json.WriteEndObject();
        }

        await response.Body.WriteAsync(body.WrittenMemory).ConfigureAwait(false);
    }

    /// <summary>The global guard's 503 through the app's problem details service; its plain text when the service declines.</summary>
    public static async Task WriteBusyProblemAsync(HttpContext context, IProblemDetailsService problems, long retryAfterSeconds, string limit, byte[] plain)
    {
        var details = new ProblemDetails { Type = ReducedCapacityType, Title = "Service busy", Status = 503, Detail = "Please retry shortly." };
        details.Extensions["violated-policies"] = ViolatedPolicies(limit);
        details.Extensions["retryAfter"] = retryAfterSeconds;
        if (!await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details }).ConfigureAwait(false))
        {
            context.Response.ContentType = "application/problem+json";
            await context.Response.Body.WriteAsync(plain).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>["policy"]</c> as a <see cref="JsonElement"/>: a type the problem details writer can serialize under Native AOT
    /// (its generated context knows JsonElement, not arrays).
    /// </summary>
    private static JsonElement ViolatedPolicies(string policy)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStringValue(policy);
            json.WriteEndArray();
        }

        using JsonDocument document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>The global guard's answer, made once: temporary-reduced-capacity naming the limit ("global" or "concurrency").</summary>
    public static byte[] BusyBody(string limit) => System.Text.Encoding.UTF8.GetBytes(
        $$"""{"type":"{{ReducedCapacityType}}","title":"Service busy","status":503,"detail":"Please retry shortly.","violated-policies":["{{limit}}"]}""");

    /// <summary>
    /// The seconds added to a client's reset times (<see cref="FloodgateOptions.RateLimitResetJitter"/>): fixed per client
    /// address (a per-process hash), so one client's values do not jump between answers while clients spread over the range.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static long Jitter(IPAddress? address, TimeSpan jitter)
    {
        if (jitter <= TimeSpan.Zero)
        {
            return 0;
        }

        uint range = (uint)jitter.TotalSeconds + 1;
        return (uint)HashCode.Combine(address) % range;
    }

    /// <summary>True when the client ranks text/html above JSON (browsers); APIs and */* get problem+json.</summary>
    internal static bool PrefersHtml(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out IList<MediaTypeHeaderValue>? accept))
        {
            return false;
        }

        double html = 0;
        double json = 0;
        foreach (MediaTypeHeaderValue type in accept)
        {
            double quality = type.Quality ?? 1.0;
            if (type.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase))
            {
                html = Math.Max(html, quality);
            }
            else if (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
                     type.MediaType.Equals("application/problem+json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        return html > json;
    }

    /// <summary>Whole seconds, rounded up, as HTTP wants them.</summary>
    internal static long Seconds(TimeSpan value)
    {
        // Whole seconds, rounded up, in integers (no floating point on the request path; exact for every TimeSpan).
        long ticks = value.Ticks;
        return ticks <= 0 ? 0 : (ticks / TimeSpan.TicksPerSecond) + ((ticks % TimeSpan.TicksPerSecond) != 0 ? 1 : 0);
    }

    private static string Describe(long seconds) => seconds switch
    {
        <= 1 => "a second",
        < 120 => $"{seconds} seconds",
        < 7200 => $"{(seconds + 59) / 60} minutes",
        _ => $"{(seconds + 3599) / 3600} hours",
    };

    /// <summary>The challenge markup when this rejection may offer one (a 429 that is not a ban, a policy that offers it, passes left).</summary>
    private static string? ChallengeFor(HttpContext context, FloodgateRejections rejections, string policyName, Decision decision, int status)
    {
        if (rejections.Challenge is not { } challenge || status != 429 || decision.Reason is not (DecisionReason.RateLimited or DecisionReason.Blocked or DecisionReason.Cooldown) ||
            !challenge.Offers(policyName))
        {
            return null;
        }

        IpKey client = IpKey.Create(context.Connection.RemoteIpAddress, rejections.Options.Ipv6PrefixLength);
        if (!challenge.HasPassesLeft(policyName, client))
        {
            return null;
        }

        challenge.Issued(policyName, client);
        return Challenge.ChallengePage.Markup(challenge.Issue(policyName, client), challenge.Difficulty, challenge.Path);
    }

    private static string Html(string title, string detail, string? contact, int status, string? challenge) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{WebUtility.HtmlEncode(title)}}</title>
        <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.5rem}p{line-height:1.5}</style>
        </head><body>
        <h1>{{WebUtility.HtmlEncode(title)}}</h1>
        <p>{{WebUtility.HtmlEncode(detail)}}</p>
        <p>This site limits how often each visitor can make requests, to stay fast for everyone (HTTP {{status}}).</p>
        {{(contact is null ? string.Empty : $"<p>If you think this is a mistake, contact {WebUtility.HtmlEncode(contact)}.</p>")}}
        {{challenge ?? string.Empty}}
        </body></html>
        """;

}
