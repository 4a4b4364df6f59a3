using System;
using System.Globalization;

namespace Floodgate.Generators;

/// <summary>Parses policy durations: a number and a unit (ms, s, m, h, d), or "forever".</summary>
internal static class DurationParser
{
    public const long Forever = -1;

    /// <summary>Parses to whole milliseconds (rounded up); <see cref="Forever"/> for "forever".</summary>
    public static bool TryParse(string text, out long milliseconds)
    {
        milliseconds = 0;
        string s = text.Trim().ToLowerInvariant();
        if (s == "forever")
        {
            milliseconds = Forever;
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
