using System.Collections.Frozen;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Floodgate;

/// <summary>
/// Reads Floodgate's configuration sections with its one duration syntax: a duration setting may be written
/// <c>"30s"</c> as in a <c>[FloodgatePolicy]</c> attribute, or <c>"00:00:30"</c> as <see cref="TimeSpan"/> reads it.
/// <c>AddFloodgate</c>, <c>AddFloodgateRedis</c> and <c>AddFloodgateOutbound</c> bind through it.
/// </summary>
public static class FloodgateConfiguration
{
    // Every TimeSpan setting of the Floodgate options types (a test checks the list against them): only these are
    // rewritten, so a path or a contact that happens to read "1d" stays what it is.
    private static readonly FrozenSet<string> s_durationKeys = new[]
    {
        "Window", "BlockDuration", "BlockExceedDuration", "MaxWindowDuration", "Cooldown", "MaxBlockDuration",
        "CheckpointInterval", "TokenLifetime", "Backoff", "MaxWait", "MaxUpstreamBackoff",
        "Timeout", "ProbeInterval", "BanSyncInterval", "ForeverRetention",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the names of the settings read as durations.</summary>
    public static IReadOnlySet<string> DurationKeys => s_durationKeys;

    /// <summary>
    /// Returns a view of <paramref name="configuration"/> in which every duration setting written in the short form
    /// (<c>30s</c>, <c>forever</c>) reads as the equivalent <see cref="TimeSpan"/> text, so the configuration binder accepts it.
    /// </summary>
    /// <param name="configuration">The section, e.g. <c>configuration.GetSection("Floodgate")</c>.</param>
    /// <returns>The view; it reads through to <paramref name="configuration"/>, reloads included.</returns>
    public static IConfiguration WithDurations(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration switch
        {
            DurationSection or DurationView => configuration,
            IConfigurationSection section => new DurationSection(section),
            _ => new DurationView(configuration),
        };
    }

    private static string? Normalize(string key, string? value) =>
        s_durationKeys.Contains(key) && value is not null && !value.Contains(':', StringComparison.Ordinal) && FloodgateDuration.TryParse(value, out TimeSpan duration)
            ? duration.ToString("c", System.Globalization.CultureInfo.InvariantCulture)
            : value;

    private sealed class DurationView(IConfiguration inner) : IConfiguration
    {
        public string? this[string key]
        {
            get => Normalize(ConfigurationPath.GetSectionKey(key), inner[key]);
            set => inner[key] = value;
        }

        public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren().Select(child => (IConfigurationSection)new DurationSection(child));

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public IConfigurationSection GetSection(string key) => new DurationSection(inner.GetSection(key));
    }

    private sealed class DurationSection(IConfigurationSection inner) : IConfigurationSection
    {
        public string Key => inner.Key;

        public string Path => inner.Path;

        public string? Value
        {
            get => Normalize(inner.Key, inner.Value);
            set => inner.Value = value;
        }

        public string? this[string key]
        {
            get => Normalize(ConfigurationPath.GetSectionKey(key), inner[key]);
            set => inner[key] = value;
        }

        public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren().Select(child => (IConfigurationSection)new DurationSection(child));

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public IConfigurationSection GetSection(string key) => new DurationSection(inner.GetSection(key));
    }
}
