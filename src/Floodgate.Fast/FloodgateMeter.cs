using System.ComponentModel;
using System.Diagnostics.Metrics;

namespace Floodgate;

/// <summary>
/// The <c>Floodgate</c> meter: one <see cref="Meter"/> per meter factory (the app's <see cref="IMeterFactory"/>), or one
/// for the process without a factory. Every limiter, the adapter and Floodgate.Redis publish their instruments on it,
/// each instrument created once.
/// </summary>
public static class FloodgateMeter
{
    /// <summary>The meter's name: listen to it (<c>AddMeter("Floodgate")</c> in OpenTelemetry, <c>dotnet-counters --counters Floodgate</c>).</summary>
    public const string Name = Internal.SharedMeter.MeterName;

    /// <summary>Gets the Floodgate meter of <paramref name="factory"/>, or the process's own without one.</summary>
    /// <param name="factory">The app's meter factory, or <see langword="null"/>.</param>
    /// <returns>The meter.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static Meter For(IMeterFactory? factory) => Internal.SharedMeter.For(factory).Meter;

    /// <summary>
    /// Gets a package's instruments on the Floodgate meter of <paramref name="factory"/>, created by
    /// <paramref name="create"/> the first time and shared afterwards, so that two limiters of one app never create
    /// the same instrument twice.
    /// </summary>
    /// <typeparam name="T">The type holding the package's instruments; one set per type and meter.</typeparam>
    /// <param name="factory">The app's meter factory, or <see langword="null"/>.</param>
    /// <param name="create">Creates the instruments on the meter.</param>
    /// <returns>The instruments.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static T Instruments<T>(IMeterFactory? factory, Func<Meter, T> create)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(create);
        return Internal.SharedMeter.For(factory).Instruments(create);
    }
}
