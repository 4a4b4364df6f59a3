using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Floodgate.Internal;

/// <summary>The hashing step every keyed hash here is built from (as in wyhash), and the secrets that key them.</summary>
internal static class MultiplyFold
{
    /// <summary>Multiplies two words into 128 bits and folds the halves together.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Fold(ulong a, ulong b)
    {
        ulong high = Math.BigMul(a, b, out ulong low);
        return high ^ low;
    }

    /// <summary>A random per-process secret; odd, so the multiply never collapses when an input XORs to zero.</summary>
    public static ulong RandomKey()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes) | 1;
    }
}
