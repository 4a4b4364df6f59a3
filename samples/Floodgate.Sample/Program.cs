using System.Security.Cryptography;
using System.Text;
using Floodgate;
using Microsoft.Extensions.Primitives;

// A small API protected by Floodgate. Policies, the global limit and the lists come from appsettings.json
// ("Floodgate" section); persistence is on: blocks survive a restart (floodgate-data/ next to this file).
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// Monitoring probes that carry a shared secret in X-Probe-Key are never limited (FlaskFloodgate's
// request_data_check). Safe by construction: without a configured secret there is no exemption at all, and the
// header is compared in constant time. The secret never lives in the repository: set it in the environment
// (ProbeKey=...) or a secret store, at least 32 characters, e.g. `openssl rand -base64 32`.
byte[]? probeKeyHash = ProbeKeyHash(builder.Configuration["ProbeKey"]);
builder.Services.AddFloodgate(options =>
{
    if (probeKeyHash is not null)
    {
        options.Exempt = context => CarriesProbeKey(context.Request.Headers["X-Probe-Key"], probeKeyHash);
    }
});

// Several instances behind a load balancer: set Floodgate:Redis:Configuration (e.g. the environment variable
// Floodgate__Redis__Configuration=localhost:6379) and every instance shares one limit per client.
if (!string.IsNullOrWhiteSpace(builder.Configuration["Floodgate:Redis:Configuration"]))
{
    builder.Services.AddFloodgateRedis();
}

WebApplication app = builder.Build();
app.UseFloodgate();

app.MapGet("/", () => "Floodgate sample. Try: GET /items, POST /login, GET /health.").DisableFloodgate();
app.MapPost("/login", () => Results.Ok(new { message = "Wrong password (this is a demo)." })).RequireFloodgate("login");
app.MapGet("/items", () => new[] { "apple", "pear", "plum" }).RequireFloodgate("api");
app.MapGet("/health", () => "healthy").DisableFloodgate();

app.Run();

// No secret (absent, empty or blank) means no exemption; a short one is refused at startup rather than guessed.
static byte[]? ProbeKeyHash(string? secret)
{
    if (string.IsNullOrWhiteSpace(secret))
    {
        return null;
    }

    if (secret.Length < 32)
    {
        throw new InvalidOperationException($"ProbeKey must be at least 32 characters (a random secret); got one of {secret.Length}.");
    }

    return SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}

// Exactly one non-empty header whose hash equals the secret's: comparing hashes of fixed length in constant
// time tells an attacker nothing about the secret, not even its length.
static bool CarriesProbeKey(StringValues header, byte[] secretHash)
{
    if (header.Count != 1 || header[0] is not { Length: > 0 and <= 256 } value)
    {
        return false;
    }

    Span<byte> bytes = stackalloc byte[256 * 3];
    Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
    int length = Encoding.UTF8.GetBytes(value, bytes);
    SHA256.HashData(bytes[..length], hash);
    return CryptographicOperations.FixedTimeEquals(hash, secretHash);
}
