using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Floodgate;

/// <summary>
/// Who a policy counts a request as: its address (the default), or a key the request carries: an API key in a header,
/// a claim of the signed-in user, a route value (a tenant), or anything an app reads itself. A request without the key
/// (no header, anonymous) is counted by its address under the same policy: never exempt.
/// </summary>
/// <remarks>
/// Key values are secrets: they are hashed with the app's key secret (<see cref="FloodgateOptions.KeySecret"/>) before
/// they touch a table, and only the hash's short fingerprint appears in logs, events and the admin endpoints. The allowlist
/// and denylist still match the request's address. In configuration a key is written <c>"Address"</c>,
/// <c>"Header:X-Api-Key"</c>, <c>"Claim:sub"</c> or <c>"Route:tenant"</c> (see <see cref="TryParse"/>).
/// </remarks>
public sealed class FloodgateKey
{
    // RFC 9110 token characters: what a header name may hold.
    private static readonly System.Buffers.SearchValues<char> s_tokenChars =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    private readonly Kind _kind;
    private readonly string _name;
    private readonly Func<HttpContext, string?>? _custom;

    private FloodgateKey(Kind kind, string name, Func<HttpContext, string?>? custom = null)
    {
        _kind = kind;
        _name = name;
        _custom = custom;
    }

    private enum Kind
    {
        Address,
        Header,
        Claim,
        Route,
        Custom,
    }

    /// <summary>Gets the key of every policy by default: the client's address (its IPv6 prefix, or the policy's prefix lengths).</summary>
    public static FloodgateKey Address { get; } = new(Kind.Address, string.Empty);

    /// <summary>Gets a value indicating whether this is <see cref="Address"/>.</summary>
    public bool IsAddress => _kind == Kind.Address;

    /// <summary>A request header, e.g. an API key in <c>X-Api-Key</c>. Several values of the header count as one key, all of them together.</summary>
    /// <param name="name">The header name.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or not a valid header name.</exception>
    public static FloodgateKey Header(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.AsSpan().IndexOfAnyExcept(s_tokenChars) >= 0)
        {
            throw new ArgumentException($"A key header must be a header name (letters, digits and !#$%&'*+-.^_`|~); got '{name}'.", nameof(name));
        }

        return new(Kind.Header, name);
    }

    /// <summary>A claim of the authenticated user (its first value), e.g. <c>sub</c>, or a tenant claim.</summary>
    /// <param name="type">The claim type.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentException"><paramref name="type"/> is empty.</exception>
    public static FloodgateKey Claim(string type)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        return new(Kind.Claim, type);
    }

    /// <summary>A route value of the endpoint, e.g. <c>tenant</c> in <c>/t/{tenant}/orders</c>.</summary>
    /// <param name="name">The route parameter.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static FloodgateKey RouteValue(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new(Kind.Route, name);
    }

    /// <summary>
    /// A key the app reads itself; <see langword="null"/> or empty means the request has none (it is counted by its address).
    /// It runs on every request of the policy's endpoints, before the endpoint: keep it cheap. An exception from it is
    /// logged (event 304) and the request is counted by its address.
    /// </summary>
    /// <param name="read">Reads the key of a request.</param>
    /// <returns>The key.</returns>
    public static FloodgateKey Custom(Func<HttpContext, string?> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return new(Kind.Custom, string.Empty, read);
    }

    /// <summary>
    /// Reads a key as configuration writes it: <c>Address</c>, <c>Header:name</c>, <c>Claim:type</c> or <c>Route:name</c>
    /// (the kind is case-insensitive).
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when the text is a key.</returns>
    public static bool TryParse(string? text, out FloodgateKey key)
    {
        key = Address;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (text.Equals("Address", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        string kind = text[..colon];
        string name = text[(colon + 1)..];
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length != name.Length)
        {
            return false;
        }

        if (kind.Equals("Header", StringComparison.OrdinalIgnoreCase) && name.AsSpan().IndexOfAnyExcept(s_tokenChars) < 0)
        {
            key = new(Kind.Header, name);
            return true;
        }

        if (kind.Equals("Claim", StringComparison.OrdinalIgnoreCase))
        {
            key = new(Kind.Claim, name);
            return true;
        }

        if (kind.Equals("Route", StringComparison.OrdinalIgnoreCase))
        {
            key = new(Kind.Route, name);
            return true;
        }

        return false;
    }

    /// <summary>Returns the key as configuration writes it (<c>Header:X-Api-Key</c>), or <c>Custom</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => _kind switch
    {
        Kind.Address => "Address",
        Kind.Custom => "Custom",
        Kind.Route => "Route:" + _name,
        _ => string.Create(CultureInfo.InvariantCulture, $"{_kind}:{_name}"),
    };

    /// <summary>
    /// Reads the request's key: the framework's own strings (a header value, a claim), so nothing is allocated for a
    /// header with one value. <see langword="null"/> when the request has none, or it is empty.
    /// </summary>
    internal string? Read(HttpContext context)
    {
        string? value = _kind switch
        {
            Kind.Header => ReadHeader(context.Request.Headers[_name]),
            Kind.Claim => context.User.FindFirst(_name)?.Value,
            Kind.Route => context.Request.RouteValues.TryGetValue(_name, out object? route) ? Convert.ToString(route, CultureInfo.InvariantCulture) : null,
            Kind.Custom => _custom!(context),
            _ => null,
        };
        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static string? ReadHeader(Microsoft.Extensions.Primitives.StringValues values) => values.Count switch
    {
        0 => null,
        1 => values[0],
        _ => string.Join('\n', values.ToArray()),   // every value, so that an extra header cannot choose whose key is counted
    };
}
