using System.Numerics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Floodgate.Internal;

/// <summary>
/// Fixed-capacity storage for <see cref="Entry"/> slots: shards of pinned, 64-byte-aligned memory, addressed by
/// a keyed hash. Nothing here grows after construction.
/// </summary>
/// <remarks>
/// A key's home slot is chosen by a hash keyed with a random per-process secret, so a client cannot pick
/// addresses that collide. Probing is linear over at most <see cref="ProbeLength"/> slots and wraps inside
/// the key's shard, so a lookup touches a bounded number of cache lines.
/// </remarks>
internal sealed unsafe class EntryTable
{
    /// <summary>The number of slots a key may live in, starting at its home slot.</summary>
    public const int ProbeLength = 16;

    private const int MaxSlotsPerShard = 1 << 16;

    // Per-process secret hash keys: drawn once, never exposed.
    private static readonly ulong s_k0 = RandomKey();
    private static readonly ulong s_k1 = RandomKey();
    private static readonly ulong s_k2 = RandomKey();
    private static readonly ulong s_k3 = RandomKey();

    private readonly byte[][] _buffers;   // keeps the pinned memory alive
    private readonly nint[] _shards;      // 64-byte-aligned start of each shard's slots
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
        _buffers = new byte[shardCount][];
        _shards = new nint[shardCount];
        for (int i = 0; i < shardCount; i++)
        {
            // Pinned so that the aligned start address stays valid; zeroed, which is every slot Empty.
            byte[] buffer = GC.AllocateArray<byte>((perShard * Entry.Size) + Entry.Size, pinned: true);
            nint start = (nint)Unsafe.AsPointer(ref buffer[0]);
            _buffers[i] = buffer;
            _shards[i] = (start + Entry.Size - 1) & ~(nint)(Entry.Size - 1);
        }
    }

    /// <summary>Gets the number of slots.</summary>
    public int Capacity { get; }

    /// <summary>Gets the number of shards the slots are split into.</summary>
    public int ShardCount { get; }

    /// <summary>Gets the slot with the given global index (shard number in the high bits).</summary>
    public ref Entry this[int slot]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Unsafe.AsRef<Entry>((void*)(_shards[slot >> _slotBits] + ((nint)(slot & _slotMask) * Entry.Size)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(in IpKey key)
    {
        // Two rounds of a 64×64→128 multiply-fold (as in wyhash), keyed with the process secret.
        ulong h = Fold(key.High ^ s_k0, key.Low ^ s_k1);
        return Fold(h ^ s_k2, key.Low ^ key.High ^ s_k3);
    }

    /// <summary>Gets the home slot of a hash: the shard from its top bits, the slot from its low bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HomeSlot(ulong hash)
    {
        int shard = ShardCount == 1 ? 0 : (int)(hash >> _shardShift);
        return (shard << _slotBits) | ((int)hash & _slotMask);
    }

    /// <summary>Gets the <paramref name="step"/>-th slot of the probe sequence that starts at <paramref name="home"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Probe(int home, int step) => (home & ~_slotMask) | ((home + step) & _slotMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Fold(ulong a, ulong b)
    {
        ulong high = Math.BigMul(a, b, out ulong low);
        return high ^ low;
    }

    private static ulong RandomKey()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        // An odd key keeps the multiply from collapsing when an input XORs to zero.
        return BitConverter.ToUInt64(bytes) | 1;
    }
}
