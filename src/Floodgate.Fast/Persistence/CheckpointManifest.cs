using System.Buffers.Binary;

namespace Floodgate.Persistence;

/// <summary>
/// What a checkpoint claims to hold, stored in FASTER's commit cookie: format version, sequence number, record
/// count and checksum, and a checksum of the manifest itself. Recovery loads a checkpoint only when the records
/// it reads back match all of it.
/// </summary>
internal readonly record struct CheckpointManifest(long Sequence, long Count, ulong RecordChecksum, long CreatedUtcTicks)
{
    public const int FormatVersion = 1;
    private const uint Magic = 0x5447_4C46;   // "FLGT"
    private const int Size = 48;

    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        Span<byte> s = bytes;
        BinaryPrimitives.WriteUInt32LittleEndian(s, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(s[8..], Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(s[16..], Count);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], RecordChecksum);
        BinaryPrimitives.WriteInt64LittleEndian(s[32..], CreatedUtcTicks);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], SelfChecksum(s[..40]));
        return bytes;
    }

    public static bool TryParse(byte[]? bytes, out CheckpointManifest manifest, out string problem)
    {
        manifest = default;
        if (bytes is null || bytes.Length != Size)
        {
            problem = $"no manifest (commit cookie of {bytes?.Length ?? 0} bytes)";
            return false;
        }

        ReadOnlySpan<byte> s = bytes;
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic || BinaryPrimitives.ReadUInt64LittleEndian(s[40..]) != SelfChecksum(s[..40]))
        {
            problem = "the manifest is damaged";
            return false;
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
        if (version != FormatVersion)
        {
            problem = $"format version {version} is not {FormatVersion}";
            return false;
        }

        manifest = new CheckpointManifest(
            BinaryPrimitives.ReadInt64LittleEndian(s[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(s[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(s[32..]));
        problem = string.Empty;
        return true;
    }

    private static ulong SelfChecksum(ReadOnlySpan<byte> bytes)
    {
        ulong h = 0xCBF29CE484222325;
        foreach (byte b in bytes)
        {
            h = (h ^ b) * 0x100000001B3;
        }

        return h;
    }
}
