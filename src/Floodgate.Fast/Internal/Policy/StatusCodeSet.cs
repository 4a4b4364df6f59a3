namespace Floodgate.Internal;

/// <summary>
/// The answers a policy counts (<c>CountStatusCodes</c>): status codes (<c>401</c>) and classes (<c>4xx</c>), separated by
/// commas. One parser for the engine's validation, the adapter and the source generator (linked into each).
/// </summary>
internal sealed class StatusCodeSet
{
    private const int Lowest = 100;
    private const int Highest = 599;

    private readonly bool[] _codes = new bool[Highest + 1];

    private StatusCodeSet()
    {
    }

    /// <summary>The rule a set must follow, as messages state it.</summary>
    public const string Rule = "must be status codes (100 to 599) or classes (1xx to 5xx) separated by commas, e.g. 401, 401,403 or 4xx";

    /// <summary>Reads <c>401</c>, <c>401,403</c>, <c>4xx</c>, <c>404, 5xx</c> (spaces around items allowed, <c>X</c> as <c>x</c>).</summary>
    public static bool TryParse(string? text, out StatusCodeSet? set)
    {
        set = null;
        if (text is null || text.Trim().Length == 0)
        {
            return false;
        }

        var parsed = new StatusCodeSet();
        foreach (string raw in text.Split(','))
        {
            string item = raw.Trim();
            if (item.Length != 3 || item[0] < '1' || item[0] > '5')
            {
                return false;
            }

            int hundreds = (item[0] - '0') * 100;
            if ((item[1] is 'x' or 'X') && (item[2] is 'x' or 'X'))
            {
                for (int code = hundreds; code < hundreds + 100; code++)
                {
                    parsed._codes[code] = true;
                }
            }
            else if (item[1] is >= '0' and <= '9' && item[2] is >= '0' and <= '9')
            {
                parsed._codes[hundreds + ((item[1] - '0') * 10) + (item[2] - '0')] = true;
            }
            else
            {
                return false;
            }
        }

        set = parsed;
        return true;
    }

    /// <summary>Tells whether an answer with <paramref name="status"/> is counted.</summary>
    public bool Contains(int status) => status >= Lowest && status <= Highest && _codes[status];
}
