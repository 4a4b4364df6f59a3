using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace Floodgate.Sample;

/// <summary>
/// A shared secret carried in a request header (the probe key, the admin key). Safe by construction: without a
/// configured secret nothing matches (an absent header must not equal an absent setting), a short secret is refused
/// at startup, and a header is compared by the SHA-256 of its value in constant time, so an attacker learns nothing
/// about the secret, not even its length. The secret never lives in the repository: set it in the environment.
/// </summary>
internal sealed class SecretHeader
{
    private readonly byte[] _hash;

    private SecretHeader(byte[] hash) => _hash = hash;

    /// <summary>Reads the secret from <paramref name="setting"/>; <see langword="null"/> when it is not configured.</summary>
    /// <exception cref="InvalidOperationException">The secret is shorter than 32 characters (the message does not print it).</exception>
    public static SecretHeader? FromConfiguration(IConfiguration configuration, string setting)
    {
        string? secret = configuration[setting];
        if (string.IsNullOrWhiteSpace(secret))
        {
            return null;
        }

        if (secret.Length < 32)
        {
            throw new InvalidOperationException($"{setting} must be at least 32 characters (a random secret); got one of {secret.Length}.");
        }

        return new SecretHeader(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
    }

    /// <summary>Exactly one non-empty header whose SHA-256 equals the secret's.</summary>
    public bool IsCarriedBy(StringValues header)
    {
        if (header.Count != 1 || header[0] is not { Length: > 0 and <= 256 } value)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[256 * 3];
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        int length = Encoding.UTF8.GetBytes(value, bytes);
        SHA256.HashData(bytes[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _hash);
    }
}
