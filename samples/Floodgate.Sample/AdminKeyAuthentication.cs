using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Floodgate.Sample;

/// <summary>
/// Authenticates operators by the <c>X-Admin-Key</c> header against the <c>AdminKey</c> secret (at least 32
/// characters, from the environment: <c>AdminKey=$(openssl rand -base64 32)</c>). Without the setting nobody is an
/// operator. A real deployment would use its identity provider instead; the authorization policy stays the same.
/// </summary>
internal sealed class AdminKeyAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AdminKeyAuthentication.Key key)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AdminKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (key.Secret?.IsCarriedBy(Request.Headers["X-Admin-Key"]) != true)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "operator"), new Claim(ClaimTypes.Role, "floodgate-admin")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    /// <summary>The configured secret, or none.</summary>
    public sealed record Key(SecretHeader? Secret);
}
