using Floodgate.Internal;

namespace Floodgate;

/// <summary>
/// Floodgate's one duration syntax, accepted by <c>[FloodgatePolicy]</c> attributes and by configuration alike:
/// a number and a unit (<c>500ms</c>, <c>30s</c>, <c>15m</c>, <c>2h</c>, <c>7d</c>), a <see cref="TimeSpan"/> in
/// its invariant form (<c>00:00:30</c>), or <c>forever</c> (<see cref="FloodgatePolicy.Forever"/>).
/// </summary>
public static class FloodgateDuration
{
    /// <summary>Parses a duration; a fraction of a millisecond is rounded up.</summary>
    /// <param name="text">The text, e.g. <c>30s</c> or <c>00:00:30</c>.</param>
    /// <param name="duration">The duration, when the text is one.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a duration.</returns>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (!DurationSyntax.TryParse(text, out long milliseconds))
        {
            return false;
        }

        duration = milliseconds == DurationSyntax.Forever ? FloodgatePolicy.Forever : TimeSpan.FromMilliseconds(milliseconds);
        return true;
    }

    /// <summary>Parses a duration; a fraction of a millisecond is rounded up.</summary>
    /// <param name="text">The text, e.g. <c>30s</c> or <c>00:00:30</c>.</param>
    /// <returns>The duration.</returns>
    /// <exception cref="FormatException"><paramref name="text"/> is not a duration; the message quotes it.</exception>
    public static TimeSpan Parse(string text) =>
        TryParse(text, out TimeSpan duration)
            ? duration
            : throw new FormatException($"'{text}' is not a duration: use a number and a unit (500ms, 30s, 15m, 2h, 7d), a TimeSpan such as 00:00:30, or forever.");
}
