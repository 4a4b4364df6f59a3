using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Unicode;
using System.Security.Cryptography;
using Floodgate.Internal;

namespace Floodgate;

/// <summary>
/// Turns a client key that is not an address (an API key, a user id, a tenant) into a 16-byte <see cref="IpKey"/> with a
/// secret-keyed hash, so that the value itself never reaches the table, a checkpoint, the ban journal, Redis, a log or an
/// event: they hold the hash, and show a short fingerprint of it (<see cref="IpKey.ToString"/>).
/// </summary>
/// <remarks>
/// <para>
/// The hash is SipHash-2-4 with a 128-bit tag, keyed from the secret: a pseudorandom function, so without the secret
/// nobody can compute a key's hash, nor choose a value that lands on someone else's key. 120 bits of the tag are kept,
/// under the prefix <c>ff00::/8</c> (IPv6 multicast, which is never a client's source address: <see cref="IpKey"/> turns
/// such addresses into <see cref="IpKey.Unknown"/>), so a key hash never equals an address key.
/// </para>
/// <para>
/// The same secret gives the same hashes in every process: keep it (persistence restores state by hash) and give every
/// instance the same one (Redis shares state by hash). A new secret starts every keyed client afresh. Text is hashed as
/// its UTF-8 bytes. Hashing allocates nothing.
/// </para>
/// </remarks>
public sealed class FloodgateKeyHasher
{
    /// <summary>The fewest secret bytes accepted (128 bits).</summary>
    public const int MinSecretBytes = 16;

    private const ulong HashTag = 0xFF00_0000_0000_0000UL;

    // Keys up to this many UTF-16 units are encoded on the stack (768 bytes at most).
    private const int StackChars = 256;

    // Domain separation: the secret is never used as-is, so one shared with another use (a signing key) gives unrelated hashes.
    private static readonly byte[] s_label = "floodgate-key-hash-v1\0"u8.ToArray();

    private readonly ulong _k0;
    private readonly ulong _k1;

    /// <summary>Creates a hasher from a secret.</summary>
    /// <param name="secret">At least <see cref="MinSecretBytes"/> random bytes (e.g. <c>openssl rand -base64 32</c>, decoded).</param>
    /// <exception cref="ArgumentException"><paramref name="secret"/> is shorter than <see cref="MinSecretBytes"/>.</exception>
    public FloodgateKeyHasher(ReadOnlySpan<byte> secret)
    {
        if (secret.Length < MinSecretBytes)
        {
            throw new ArgumentException($"A key-hash secret must be at least {MinSecretBytes} bytes long; got {secret.Length}.", nameof(secret));
        }

        byte[] input = new byte[s_label.Length + secret.Length];
        s_label.CopyTo(input, 0);
        secret.CopyTo(input.AsSpan(s_label.Length));
        Span<byte> derived = stackalloc byte[32];
        SHA256.HashData(input, derived);
        CryptographicOperations.ZeroMemory(input);
        _k0 = BinaryPrimitives.ReadUInt64LittleEndian(derived);
        _k1 = BinaryPrimitives.ReadUInt64LittleEndian(derived[8..]);
        CryptographicOperations.ZeroMemory(derived);
    }

    /// <summary>Creates a hasher with a random secret: its hashes mean nothing to another process, or after a restart.</summary>
    /// <returns>The hasher.</returns>
    public static FloodgateKeyHasher CreateRandom() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Hashes a key given as text (a header value, a claim): its UTF-8 bytes, so the same on every platform and the same
    /// as <see cref="Hash(ReadOnlySpan{byte})"/> of them. Text that is not valid UTF-16 (a lone surrogate) is hashed
    /// apart from all valid text, never replaced (which would let two values share a hash). Never allocates.
    /// </summary>
    /// <param name="value">The key's value.</param>
    /// <returns>The client key of that value.</returns>
    public IpKey Hash(ReadOnlySpan<char> value)
    {
        // Keys are short: UTF-8 on the stack, in chunks for a long one (at most 3 bytes per UTF-16 unit).
        if (value.Length <= StackChars)
        {
            Span<byte> utf8 = stackalloc byte[StackChars * 3];
            return Utf8.FromUtf16(value, utf8, out _, out int written, replaceInvalidSequences: false) == OperationStatus.Done
                ? Hash(utf8[..written])
                : HashInvalid(value);
        }

        return HashLong(value);
    }

    /// <summary>Hashes a key given as bytes. Never allocates.</summary>
    /// <param name="value">The key's bytes.</param>
    /// <returns>The client key of those bytes.</returns>
    public IpKey Hash(ReadOnlySpan<byte> value)
    {
        (ulong first, ulong second) = SipHash128.Hash(_k0, _k1, value);
        return new IpKey(HashTag | (first >> 8), second);
    }

    /// <summary>A long key: its UTF-8 bytes in a rented buffer (only for values longer than <see cref="StackChars"/>).</summary>
    private IpKey HashLong(ReadOnlySpan<char> value)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(value.Length * 3);
        try
        {
            return Utf8.FromUtf16(value, rented, out _, out int written, replaceInvalidSequences: false) == OperationStatus.Done
                ? Hash(rented.AsSpan(0, written))
                : HashInvalid(value);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Text with a lone surrogate: its UTF-16 units after a 0xFF byte, which no UTF-8 text holds, so it can equal no valid
    /// text's hash and no two such texts share one.
    /// </summary>
    private IpKey HashInvalid(ReadOnlySpan<char> value)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 + (value.Length * 2));
        try
        {
            buffer[0] = 0xFF;
            for (int i = 0; i < value.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(1 + (2 * i)), value[i]);
            }

            return Hash(buffer.AsSpan(0, 1 + (value.Length * 2)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The key hash in full, as text (<c>k</c> and 30 hex digits): how a shared store names the client. It reveals nothing
    /// of the value; <see cref="IpKey.ToString"/> shows only its first 8 digits.
    /// </summary>
    /// <param name="key">A key hash (<see cref="IpKey.IsKeyHash"/>).</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a key hash.</exception>
    public static string Format(in IpKey key)
    {
        if (!key.IsKeyHash)
        {
            throw new ArgumentException($"'{key}' is an address key, not a key hash.", nameof(key));
        }

        return string.Create(CultureInfo.InvariantCulture, $"k{key.High & ~HashTag:x14}{key.Low:x16}");
    }

    /// <summary>Reads the text <see cref="Format"/> writes.</summary>
    /// <param name="text">The text.</param>
    /// <param name="key">The key hash.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a key hash's text.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out IpKey key)
    {
        if (text.Length == 31 && text[0] == 'k' &&
            ulong.TryParse(text[1..15], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong high) &&
            ulong.TryParse(text[15..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong low))
        {
            key = new IpKey(HashTag | high, low);
            return true;
        }

        key = default;
        return false;
    }
}
