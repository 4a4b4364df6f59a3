using Floodgate;
using Floodgate.Sample;
using Microsoft.AspNetCore.Authentication;

// A small API protected by Floodgate. Policies come from appsettings.json ("Floodgate" section) and from the
// [FloodgatePolicy] attribute below; persistence is on: blocks survive a restart (floodgate-data/ next to the app).
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// Monitoring probes that carry a shared secret in X-Probe-Key are never limited (FlaskFloodgate's
// request_data_check). Without a configured ProbeKey there is no exemption at all (see SecretHeader).
SecretHeader? probeKey = SecretHeader.FromConfiguration(builder.Configuration, "ProbeKey");
builder.Services.AddFloodgate(options =>
{
    if (probeKey is not null)
    {
        options.Exempt = context => probeKey.IsCarriedBy(context.Request.Headers["X-Probe-Key"]);
    }
});

// Several instances behind a load balancer: set Floodgate:Redis:Configuration (e.g. the environment variable
// Floodgate__Redis__Configuration=localhost:6379) and every instance shares one limit per client. The "partners" policy
// counts API keys, so the instances also need one key secret (Floodgate__KeySecret=$(openssl rand -base64 32), the same
// for all, from your secret store): without it the app stops at startup and says so.
if (!string.IsNullOrWhiteSpace(builder.Configuration["Floodgate:Redis:Configuration"]))
{
    builder.Services.AddFloodgateRedis();
}

// Operators: the admin endpoints require the "FloodgateAdmins" authorization policy, defined here as "authenticated
// by the AdminKey scheme" (see AdminKeyAuthentication); with your identity provider, require its role instead.
builder.Services.AddSingleton(new AdminKeyAuthentication.Key(SecretHeader.FromConfiguration(builder.Configuration, "AdminKey")));
builder.Services.AddAuthentication(AdminKeyAuthentication.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, AdminKeyAuthentication>(AdminKeyAuthentication.SchemeName, null);
builder.Services.AddAuthorizationBuilder()
    .AddPolicy("FloodgateAdmins", policy => policy.AddAuthenticationSchemes(AdminKeyAuthentication.SchemeName).RequireRole("floodgate-admin"));

// Health: Degraded while a promise is not kept (state not saved, Redis unreachable); limits still apply.
builder.Services.AddHealthChecks().AddFloodgate();

WebApplication app = builder.Build();
app.UseFloodgate();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/", () => "Floodgate sample. Try: GET /items, GET /search, GET /export, GET /partner/orders (X-Api-Key), POST /login, GET /health.").DisableFloodgate();
app.MapPost("/login", () => Results.Ok(new { message = "Wrong password (this is a demo)." })).RequireFloodgate("login");
app.MapGet("/items", () => new[] { "apple", "pear", "plum" }).RequireFloodgate("api");
app.MapGet("/search", [Floodgate("search")] (string? q) => new[] { $"results for '{q}'" });

// A token bucket (30 a minute, 10 at once) where an export costs 5: two at once, then one every 10 seconds.
app.MapGet("/export", () => "id,name\n1,apple\n").RequireFloodgate("exports", cost: 5);

// Per API key (appsettings.json: "Key": "Header:X-Api-Key"): 20 a minute per key, from any address; a request without
// the header counts as its address. The key is hashed with a secret kept in floodgate-data/ (or Floodgate:KeySecret) and
// never logged or stored. "api" beside it, per address, stops one client rotating made-up keys.
app.MapGet("/partner/orders", () => new[] { "order-1", "order-2" }).RequireFloodgate("partners", "api");
app.MapHealthChecks("/health").DisableFloodgate();
app.MapFloodgateAdmin("/floodgate", "FloodgateAdmins");

// A live view with unblock buttons, for the same operators. The sample's AdminKey scheme reads a header, which a
// browser does not send by itself: with cookie sign-in (your identity provider) the page just opens.
app.MapFloodgateDashboard("/floodgate/dashboard", "FloodgateAdmins");

app.Run();

// Compiled at build time: the generator turns the attribute into a checker with its numbers as constants, and
// AddFloodgate() picks it up. 5 searches per 10 seconds per client; after 3 blocks, an hour's block.
[FloodgatePolicy("search", PermitLimit = 5, Window = "10s", BlockDuration = "30s", BlockLimit = 3, BlockExceedDuration = "1h")]
internal static partial class Policies;
