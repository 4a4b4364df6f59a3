using System.Runtime.InteropServices;

namespace Floodgate.Internal;

/// <summary>
/// The part of a client's slot that every check reads: 16 bytes, four to a cache line.
/// </summary>
/// <remarks>
/// <code>
///  offset  size  field    meaning
///   0       8    Tag      SlotTag: the client's 62-bit keyed identity | state (Empty, Live, Busy)   (CAS)
///   8       8    Window   WindowWord: window start | block-state hint | block counted | counter      (CAS)
/// </code>
/// A check of a client with no block on record touches nothing else, so the memory a check touches per
/// client is a quarter of a cache line: 100,000 clients fit in a few MiB of cache instead of missing to DRAM.
/// Everything else about the client is in its <see cref="ColdEntry"/>, at the same slot index.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct HotEntry
{
    public const int Size = 16;

    [FieldOffset(0)] public long Tag;
    [FieldOffset(8)] public long Window;
}
