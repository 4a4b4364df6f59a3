using System;
using System.Globalization;

namespace Floodgate.Internal;

/// <summary>
/// The one duration syntax of Floodgate, shared by the engine, the configuration binding and the source generator
/// (which compiles this file too): a number and a unit (<c>500ms</c>, <c>30s</c>, <c>15m</c>, <c>2h</c>, <c>7d</c>),
/// a <see cref="TimeSpan"/> in its invariant form (<c>00:00:30</c>, <c>1.00:00:00</c>), or <c>forever</c>.
/// </summary>
internal static class DurationSyntax
{
    /// <summary>What <see cref="TryParse"/> returns for <c>forever</c>.</summary>
    public const long Forever = -1;

    /// <summary>Parses to whole milliseconds (rounded up); <see cref="Forever"/> for <c>forever</c>.</summary>
    public static bool TryParse(string? text, out long milliseconds)
    {
        milliseconds = 0;
        string s = (text ?? string.Empty).Trim().ToLowerInvariant();
        if (s == "forever")
        {
            milliseconds = Forever;
            return true;
        }

        if (s.IndexOf(':') >= 0)
        {
            // The TimeSpan form configuration files have always used; a bare number (which TimeSpan reads as days) is not accepted.
            if (!TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out TimeSpan span) || span < TimeSpan.Zero)
            {
                return false;
            }

            milliseconds = (long)Math.Ceiling(span.Ticks / (double)TimeSpan.TicksPerMillisecond);
            return true;
        }

        int unitStart = 0;
        while (unitStart < s.Length && (char.IsDigit(s[unitStart]) || s[unitStart] == '.'))
        {
            unitStart++;
        }

        if (unitStart == 0 || !double.TryParse(s.Substring(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
        {
            return false;
        }

        double factor = s.Substring(unitStart).Trim() switch
        {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => 0,
        };
        if (factor == 0 || double.IsInfinity(value * factor) || value * factor > long.MaxValue / 2)
        {
            return false;
        }

        milliseconds = (long)Math.Ceiling(value * factor);
        return true;
    }
}
