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
    private const string TooManyRequestsType = "https://httpwg.org/specs/rfc6585.html#status-429";

    public static int StatusOf(DecisionReason reason) => reason is DecisionReason.Blacklisted or DecisionReason.Denylisted ? 403 : 429;

    /// <summary>Writes a rejection: status, Retry-After, then the hook or a body chosen by content negotiation.</summary>
    public static async Task WriteAsync(HttpContext context, FloodgateRejections rejections, string policyName, Decision decision, int status)
    {
        FloodgateOptions options = rejections.Options;
        IProblemDetailsService? problems = rejections.Problems;
        rejections.Tallies.For(policyName).Refused(IpKey.Create(context.Connection.RemoteIpAddress, options.Ipv6PrefixLength));
        HttpResponse response = context.Response;
        response.StatusCode = status;
        if (decision.RetryAfter != TimeSpan.MaxValue)
        {
            response.Headers.RetryAfter = Seconds(decision.RetryAfter).ToString(CultureInfo.InvariantCulture);
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
        string detail = decision.RetryAfter == TimeSpan.MaxValue
            ? "Requests from your address are not accepted."
            : $"Please try again in {Describe(decision.RetryAfter)}.";

        if (PrefersHtml(context.Request))
        {
            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Html(title, detail, options.Contact, status, ChallengeFor(context, rejections, policyName, decision, status))).ConfigureAwait(false);
            return;
        }

        string type = status == 429 ? TooManyRequestsType : "about:blank";
        long? retryAfter = decision.RetryAfter != TimeSpan.MaxValue ? Seconds(decision.RetryAfter) : null;
        if (problems is not null)
        {
            // The app's problem details service (AddProblemDetails): its customisations (trace ids, extensions) apply.
            var details = new ProblemDetails { Type = type, Title = title, Status = status, Detail = detail };
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
    public static async Task WriteBusyProblemAsync(HttpContext context, IProblemDetailsService problems, long retryAfterSeconds, byte[] plain)
    {
        var details = new ProblemDetails { Type = "about:blank", Title = "Service busy", Status = 503, Detail = "Please retry shortly." };
        details.Extensions["retryAfter"] = retryAfterSeconds;
        if (!await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details }).ConfigureAwait(false))
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.Body.WriteAsync(plain).ConfigureAwait(false);
        }
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

    private static string Describe(TimeSpan wait) => Seconds(wait) switch
    {
        <= 1 => "a second",
        < 120 and var s => $"{s} seconds",
        < 7200 => $"{Math.Ceiling(wait.TotalMinutes)} minutes",
        _ => $"{Math.Ceiling(wait.TotalHours)} hours",
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
