using System.Runtime.InteropServices;

namespace Floodgate.Internal;

/// <summary>
/// The part of a client's slot that checks read only when the client has block state, a cooldown or
/// carry-over, and that operator operations read: 48 bytes (with the 16-byte <see cref="HotEntry"/>, 64 per slot).
/// </summary>
/// <remarks>
/// <code>
///  offset  size  field        meaning
///   0      16    KeyHigh/Low  the exact IpKey, stable while the slot is Live
///  16       8    Block        BlockWord: block end | generation | punished | blacklisted   (CAS)
///  24       8    Offenses     OffenseWord: quiet-from time | block count | generation      (CAS)
///  32       8    LastAllowed  ms timestamp of the last allowed request, for Cooldown        (CAS)
///  40       4    Carry        FixedWindow: permits carried into the current window (display only)
///  44       4    (unused)
///  40       8    Previous     SlidingWindow, in place of Carry: the previous window as a WindowWord (start | count),
///                             raised only (CAS to a later start or a higher count), written before the roll that ends it
/// </code>
/// The generation in Block and Offenses changes whenever the slot is given to another client, so a stale
/// CAS from a check of the previous client fails instead of writing into the new one.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct ColdEntry
{
    public const int Size = 48;

    [FieldOffset(0)] public ulong KeyHigh;
    [FieldOffset(8)] public ulong KeyLow;
    [FieldOffset(16)] public long Block;
    [FieldOffset(24)] public long Offenses;
    [FieldOffset(32)] public long LastAllowed;
    [FieldOffset(40)] public int Carry;
    [FieldOffset(40)] public long Previous;
}
