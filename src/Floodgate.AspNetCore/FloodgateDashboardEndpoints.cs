using Floodgate.AspNetCore;
using Floodgate.AspNetCore.Dashboard;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>A live view of Floodgate: decisions per second, the most refused clients, bans with their time left, and buttons to lift them.</summary>
public static class FloodgateDashboardEndpoints
{
    /// <summary>The header the dashboard's buttons send: a page of another site cannot send it, so it cannot press them (CSRF).</summary>
    public const string ActionHeader = "X-Floodgate-Dashboard";

    // The page's own policy: its script and style are files of this origin; nothing inline, nothing from elsewhere.
    private const string ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly byte[] s_page = Load("dashboard.html");
    private static readonly byte[] s_script = Load("dashboard.js");
    private static readonly byte[] s_style = Load("dashboard.css");
    private static readonly byte[] s_icon = Load("dashboard.svg");

    /// <summary>
    /// Maps the dashboard at <paramref name="pattern"/> (e.g. <c>/floodgate/dashboard</c>), protected by
    /// <paramref name="authorizationPolicy"/> (required: its buttons lift bans). A self-contained page (no CDN, works
    /// offline) with its script and style served beside it, so it needs no <c>'unsafe-inline'</c> in any
    /// Content-Security-Policy. It reads <c>{pattern}/data</c> every second: the same operations as the admin endpoints,
    /// in process or on Redis. The endpoints are <c>[DisableFloodgate]</c>, so a flood does not hide the view of it.
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    /// <param name="pattern">Where the page is, e.g. <c>/floodgate/dashboard</c>.</param>
    /// <param name="authorizationPolicy">The authorization policy an operator must satisfy.</param>
    /// <returns>The group, for more conventions.</returns>
    public static RouteGroupBuilder MapFloodgateDashboard(this IEndpointRouteBuilder endpoints, string pattern, string authorizationPolicy)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        ArgumentException.ThrowIfNullOrWhiteSpace(authorizationPolicy);
        RouteGroupBuilder group = endpoints.MapGroup(pattern).RequireAuthorization(authorizationPolicy).DisableFloodgate();

        // The page at "{pattern}/": its script, style and data are then relative URLs, under any PathBase.
        group.MapGet("/", (HttpContext context) => Page(context));
        group.MapGet("/dashboard.js", (HttpContext context) => File(context, s_script, "text/javascript; charset=utf-8"));
        group.MapGet("/dashboard.css", (HttpContext context) => File(context, s_style, "text/css; charset=utf-8"));
        group.MapGet("/dashboard.svg", (HttpContext context) => File(context, s_icon, "image/svg+xml"));
        group.MapGet("/data", async (HttpContext context, FloodgateService service) =>
        {
            NoStore(context);
            return TypedResults.Json(await DashboardData.ReadAsync(service, context.RequestAborted).ConfigureAwait(false), DashboardJson.Default.DashboardData);
        });

        // The buttons: the admin endpoints' operations, behind the header a cross-site form cannot send.
        group.MapPost("/clients/{client}/unblock", (string client, HttpContext context, FloodgateService service) =>
            Guarded(context, () => FloodgateAdminEndpoints.WithClientAsync(client, service, target => FloodgateAdminEndpoints.ChangeAsync(service, target, FloodgateAdminEndpoints.Change.Unblock))));
        group.MapDelete("/clients/{client}/blacklist", (string client, HttpContext context, FloodgateService service) =>
            Guarded(context, () => FloodgateAdminEndpoints.WithClientAsync(client, service, target => FloodgateAdminEndpoints.ChangeAsync(service, target, FloodgateAdminEndpoints.Change.Unblacklist))));
        return group;
    }

    private static IResult Page(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (!request.Path.HasValue || !request.Path.Value.EndsWith('/'))
        {
            return Results.Redirect(request.PathBase + request.Path + "/" + request.QueryString);
        }

        return File(context, s_page, "text/html; charset=utf-8");
    }

    private static IResult File(HttpContext context, byte[] content, string contentType)
    {
        NoStore(context);
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return Results.Bytes(content, contentType);
    }

    private static void NoStore(HttpContext context)
    {
        IHeaderDictionary headers = context.Response.Headers;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
    }

    private static Task<IResult> Guarded(HttpContext context, Func<Task<IResult>> action) =>
        context.Request.Headers[ActionHeader] == "1"
            ? action()
            : Task.FromResult(Results.Problem($"Send the {ActionHeader}: 1 header (the dashboard's buttons do): it shows the request is not a form of another site.", statusCode: StatusCodes.Status400BadRequest));

    private static byte[] Load(string name)
    {
        using Stream stream = typeof(FloodgateDashboardEndpoints).Assembly.GetManifestResourceStream("Floodgate.Dashboard." + name)
            ?? throw new InvalidOperationException($"Floodgate: the dashboard's {name} is missing from the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
