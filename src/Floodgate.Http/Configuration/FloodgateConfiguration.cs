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
        "Timeout", "ProbeInterval", "BanSyncInterval", "ForeverRetention", "RateLimitResetJitter", "SyncInterval",
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
            DurationView => configuration,
            IConfigurationSection section => new DurationSection(section),
            _ => new DurationView(configuration),
        };
    }

    private static string? Normalize(string key, string? value) =>
        s_durationKeys.Contains(key) && value is not null && !value.Contains(':', StringComparison.Ordinal) && FloodgateDuration.TryParse(value, out TimeSpan duration)
            ? duration.ToString("c", System.Globalization.CultureInfo.InvariantCulture)
            : value;

    /// <summary>Reads through to <see cref="Inner"/>, rewriting short-form durations; a section's view adds its key and value.</summary>
    private class DurationView(IConfiguration inner) : IConfiguration
    {
        protected IConfiguration Inner { get; } = inner;

        public string? this[string key]
        {
            get => Normalize(ConfigurationPath.GetSectionKey(key), Inner[key]);
            set => Inner[key] = value;
        }

        public IEnumerable<IConfigurationSection> GetChildren() => Inner.GetChildren().Select(child => (IConfigurationSection)new DurationSection(child));

        public IChangeToken GetReloadToken() => Inner.GetReloadToken();

        public IConfigurationSection GetSection(string key) => new DurationSection(Inner.GetSection(key));
    }

    private sealed class DurationSection(IConfigurationSection section) : DurationView(section), IConfigurationSection
    {
        private IConfigurationSection Section => (IConfigurationSection)Inner;

        public string Key => Section.Key;

        public string Path => Section.Path;

        public string? Value
        {
            get => Normalize(Section.Key, Section.Value);
            set => Section.Value = value;
        }
    }
}
