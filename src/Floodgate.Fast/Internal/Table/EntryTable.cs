using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Floodgate.Internal;

/// <summary>
/// Fixed-capacity storage for client slots: a hot array of <see cref="HotEntry"/> (what every check reads) and
/// a cold array of <see cref="ColdEntry"/> (the rest) in native memory, addressed by a keyed hash. Nothing here
/// grows after construction: 64 bytes per slot.
/// </summary>
/// <remarks>
/// A key's home slot is chosen by a hash keyed with a random per-process secret, so a client cannot pick
/// addresses that collide. Probing is linear over at most <see cref="ProbeLength"/> slots and wraps inside
/// the key's shard (a power-of-two range of slots), so a lookup touches a bounded number of cache lines.
/// </remarks>
internal sealed unsafe partial class EntryTable
{
    /// <summary>The number of slots a key may live in, starting at its home slot.</summary>
    public const int ProbeLength = 16;

    private const int MaxSlotsPerShard = 1 << 16;
    private const int HugePageSize = 2 << 20;
    private const int MadviseHugePage = 14;   // MADV_HUGEPAGE

    // Per-process secret hash keys: drawn once, never exposed.
    private static readonly ulong s_k0 = MultiplyFold.RandomKey();
    private static readonly ulong s_k1 = MultiplyFold.RandomKey();
    private static readonly ulong s_k2 = MultiplyFold.RandomKey();
    private static readonly ulong s_k3 = MultiplyFold.RandomKey();

    private readonly nint _hot;
    private readonly nint _cold;
    private readonly long _bytes;
    private readonly int _slotBits;
    private readonly int _slotMask;
    private readonly int _shardShift;

    public EntryTable(int capacity)
    {
        int total = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, ProbeLength));
        int perShard = Math.Min(total, MaxSlotsPerShard);
        int shardCount = total / perShard;

        _slotBits = BitOperations.Log2((uint)perShard);
        _slotMask = perShard - 1;
        _shardShift = 64 - Math.Max(1, BitOperations.Log2((uint)shardCount));
        Capacity = total;
        ShardCount = shardCount;

        _hot = Allocate((long)total * HotEntry.Size);
        _cold = Allocate((long)total * ColdEntry.Size);
        _bytes = (long)total * (HotEntry.Size + ColdEntry.Size);
        GC.AddMemoryPressure(_bytes);
    }

    /// <summary>
    /// Frees the slots once nothing can reach the table. Disposing a limiter does not free them, so a check
    /// racing with Dispose can never touch freed memory.
    /// </summary>
    ~EntryTable()
    {
        NativeMemory.AlignedFree((void*)_hot);
        NativeMemory.AlignedFree((void*)_cold);
        GC.RemoveMemoryPressure(_bytes);
    }

    /// <summary>Gets the number of slots.</summary>
    public int Capacity { get; }

    /// <summary>
    /// 1 once the table may hold a blacklisted client (see LimiterEngine.MayHoldBlacklisted); kept with the state, so an
    /// engine made for a changed policy over this table sees it.
    /// </summary>
#pragma warning disable SA1401, CA1051 // read and written with Volatile by the engines sharing the table
    public int MayHoldBlacklisted;
#pragma warning restore SA1401, CA1051

    /// <summary>Gets the bytes the slots hold.</summary>
    public long Bytes => _bytes;

    /// <summary>Gets the number of shards the slots are split into.</summary>
    public int ShardCount { get; }

    /// <summary>Counts the slots that hold a client now (a scan of the hot array: a few ms per million slots).</summary>
    public int CountLive()
    {
        int live = 0;
        for (int slot = 0; slot < Capacity; slot++)
        {
            live += (Volatile.Read(ref Hot(slot).Tag) & 3) == 1 ? 1 : 0;
        }

        return live;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref HotEntry Hot(int slot) => ref Unsafe.AsRef<HotEntry>((void*)(_hot + ((nint)slot * HotEntry.Size)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ColdEntry Cold(int slot) => ref Unsafe.AsRef<ColdEntry>((void*)(_cold + ((nint)slot * ColdEntry.Size)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(in IpKey key)
    {
        // Two rounds of a 64×64→128 multiply-fold (as in wyhash), keyed with the process secret.
        ulong h = MultiplyFold.Fold(key.High ^ s_k0, key.Low ^ s_k1);
        return MultiplyFold.Fold(h ^ s_k2, key.Low ^ key.High ^ s_k3);
    }

    /// <summary>Gets the home slot of a hash: the shard from its top bits, the slot from its low bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HomeSlot(ulong hash)
    {
        int shard = ShardCount == 1 ? 0 : (int)(hash >> _shardShift);
        return (shard << _slotBits) | ((int)(hash >> 2) & _slotMask);
    }

    /// <summary>Gets the <paramref name="step"/>-th slot of the probe sequence that starts at <paramref name="home"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Probe(int home, int step) => (home & ~_slotMask) | ((home + step) & _slotMask);

    /// <summary>
    /// Zeroed native memory (every slot Empty), aligned to 2 MiB when large so that Linux can back it with huge
    /// pages: a check touches one random slot, and with 4 KiB pages a large table misses the TLB on most checks.
    /// </summary>
    private static nint Allocate(long bytes)
    {
        nuint alignment = bytes >= HugePageSize ? (nuint)HugePageSize : 64;
        void* memory = NativeMemory.AlignedAlloc((nuint)bytes, alignment);
        AdviseHugePages((nint)memory, (nuint)bytes);
        NativeMemory.Clear(memory, (nuint)bytes);
        return (nint)memory;
    }

    /// <summary>Asks Linux for transparent huge pages; elsewhere, or if the call is unavailable, nothing happens.</summary>
    private static void AdviseHugePages(nint address, nuint length)
    {
        if (!OperatingSystem.IsLinux() || length < HugePageSize)
        {
            return;
        }

        try
        {
            _ = Madvise(address, length, MadviseHugePage);   // a refusal (THP off) only costs speed
        }
        catch (DllNotFoundException)
        {
        }
        catch (EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
