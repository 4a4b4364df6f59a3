using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Floodgate.Persistence;

/// <summary>
/// Floodgate's own record of a checkpoint's FASTER metadata files (every file but the record log): their names,
/// lengths and checksums, written once FASTER has committed. Recovery checks it before FASTER reads anything, so
/// garbage in FASTER's metadata (sizes and addresses it would trust) is a damaged checkpoint found in microseconds,
/// not one that makes FASTER allocate and scan for seconds.
/// </summary>
/// <remarks>
/// Layout, little-endian: magic "FGMM", version (int), sequence (long), file count (int), then per file: the path
/// relative to the checkpoint in UTF-8 (length-prefixed int), its length (long) and checksum (ulong); last, a
/// checksum of everything before it. Written to a temporary name and renamed, so it is whole or absent.
/// </remarks>
internal static class MetadataManifest
{
    public const string FileName = "floodgate.manifest";
    private const uint Magic = 0x4D4D_4746;   // "FGMM"
    private const int FormatVersion = 1;
    private const int MaxFiles = 64;

    /// <summary>Writes the manifest of the metadata files in <paramref name="path"/> (a completed checkpoint).</summary>
    public static void Write(string path, long sequence)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            List<string> files = MetadataFiles(path);
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(sequence);
            writer.Write(files.Count);
            foreach (string file in files)
            {
                byte[] bytes = File.ReadAllBytes(file);
                byte[] name = Encoding.UTF8.GetBytes(Relative(path, file));
                writer.Write(name.Length);
                writer.Write(name);
                writer.Write((long)bytes.Length);
                writer.Write(Of(bytes));
            }
        }

        byte[] body = buffer.ToArray();
        byte[] whole = new byte[body.Length + 8];
        body.CopyTo(whole, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(whole.AsSpan(body.Length), Of(body));
        string temporary = Path.Combine(path, FileName + ".tmp");
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(whole);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(path, FileName), overwrite: true);
    }

    /// <summary>
    /// Checks the metadata files in <paramref name="path"/> against its manifest; false (with why) when one differs or
    /// is missing, or the manifest is damaged. <paramref name="present"/> is false for a checkpoint written
    /// before manifests existed (it has none): the caller reads it as before.
    /// </summary>
    public static bool Verify(string path, long sequence, out bool present, out string problem)
    {
        string manifestPath = Path.Combine(path, FileName);
        present = File.Exists(manifestPath);
        problem = string.Empty;
        if (!present)
        {
            return true;
        }

        byte[] whole = File.ReadAllBytes(manifestPath);
        if (whole.Length < 28 || BinaryPrimitives.ReadUInt64LittleEndian(whole.AsSpan(whole.Length - 8)) != Of(whole.AsSpan(0, whole.Length - 8)))
        {
            problem = "the metadata manifest is damaged";
            return false;
        }

        using var reader = new BinaryReader(new MemoryStream(whole, 0, whole.Length - 8), Encoding.UTF8);
        if (reader.ReadUInt32() != Magic || reader.ReadInt32() != FormatVersion || reader.ReadInt64() != sequence)
        {
            problem = "the metadata manifest is not this checkpoint's";
            return false;
        }

        int count = reader.ReadInt32();
        if (count is < 0 or > MaxFiles)
        {
            problem = $"the metadata manifest lists {count} files";
            return false;
        }

        for (int i = 0; i < count; i++)
        {
            string name = Encoding.UTF8.GetString(reader.ReadBytes(reader.ReadInt32()));
            long length = reader.ReadInt64();
            ulong checksum = reader.ReadUInt64();
            string file = Path.Combine(path, name);
            if (!File.Exists(file) || new FileInfo(file).Length != length)
            {
                problem = string.Create(CultureInfo.InvariantCulture, $"'{name}' is missing or not {length} bytes as the metadata manifest says");
                return false;
            }

            if (Of(File.ReadAllBytes(file)) != checksum)
            {
                problem = $"'{name}' does not match the metadata manifest";
                return false;
            }
        }

        // Files the manifest does not list are not checked: FASTER's own recovery adds some (an empty delta log).
        return true;
    }

    /// <summary>FASTER's metadata: every file of the checkpoint but the record log and the manifest itself.</summary>
    private static List<string> MetadataFiles(string path) =>
        [.. Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith("hlog.log", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith(FileName, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];

    private static string Relative(string path, string file) => Path.GetRelativePath(path, file).Replace('\\', '/');

    private static ulong Of(ReadOnlySpan<byte> bytes)
    {
        ulong h = 0x6A09E667F3BCC908 ^ (ulong)bytes.Length;
        int i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            h = Checksum.Mix(h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]), 0xA0761D6478BD642F);
        }

        ulong tail = 0;
        for (int shift = 0; i < bytes.Length; i++, shift += 8)
        {
            tail |= (ulong)bytes[i] << shift;
        }

        return Checksum.Mix(h ^ tail, 0xE7037ED1A0B428DB);
    }
}
