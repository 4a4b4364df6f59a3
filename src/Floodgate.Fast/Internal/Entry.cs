using System.Runtime.InteropServices;

namespace Floodgate.Internal;

/// <summary>
/// One client's slot in the table: exactly one 64-byte cache line (the table aligns slots to 64 bytes).
/// </summary>
/// <remarks>
/// <code>
///  offset  size  field        meaning
///   0       4    Header       SlotHeader: generation | fingerprint | state (Empty, Live, Busy)
///   4       4    LastSeen     seconds since the limiter's epoch of the last check (LRU eviction)
///   8      16    KeyHigh/Low  the IpKey, stable while the slot is Live
///  24       8    Window       WindowWord: window start | block-counted flag | counter    (CAS)
///  32       8    Block        BlockWord: block end | generation | punished | blacklisted (CAS)
///  40       8    Offenses     OffenseWord: quiet-from time | block count | generation   (CAS)
///  48       8    LastAllowed  ms timestamp of the last allowed request, for Cooldown    (CAS)
///  56       4    Carry        permits carried into the current window (display only)
///  60       4    (unused)
/// </code>
/// Decisions read and CAS single words; no decision needs two words to change together atomically. The
/// generation in Block and Offenses makes a stale CAS fail after the slot was reused for another client.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct Entry
{
    public const int Size = 64;

    [FieldOffset(0)] public int Header;
    [FieldOffset(4)] public uint LastSeen;
    [FieldOffset(8)] public ulong KeyHigh;
    [FieldOffset(16)] public ulong KeyLow;
    [FieldOffset(24)] public long Window;
    [FieldOffset(32)] public long Block;
    [FieldOffset(40)] public long Offenses;
    [FieldOffset(48)] public long LastAllowed;
    [FieldOffset(56)] public int Carry;
}
