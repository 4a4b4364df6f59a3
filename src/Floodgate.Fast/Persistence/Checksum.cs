using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Floodgate.Persistence;

/// <summary>
/// An order-independent 64-bit checksum of a checkpoint's records: the sum of a strong mix of each record's
/// bytes, so records read back in any order give the same value, and a flipped bit anywhere changes it.
/// </summary>
internal static class Checksum
{
    private const ulong Seed = 0x9E3779B97F4A7C15;

    public static ulong Of(in PersistedKey key, in PersistedEntry entry)
    {
        ulong h = Seed;
        foreach (ulong word in MemoryMarshal.Cast<PersistedKey, ulong>(MemoryMarshal.CreateReadOnlySpan(in key, 1)))
        {
            h = Mix(h ^ word, 0xA0761D6478BD642F);
        }

        foreach (ulong word in MemoryMarshal.Cast<PersistedEntry, ulong>(MemoryMarshal.CreateReadOnlySpan(in entry, 1)))
        {
            h = Mix(h ^ word, 0xE7037ED1A0B428DB);
        }

        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong a, ulong b) => Internal.MultiplyFold.Fold(a ^ Seed, b | 1);
}
