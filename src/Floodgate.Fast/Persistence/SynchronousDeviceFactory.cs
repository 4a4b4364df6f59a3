using FASTER.core;

namespace Floodgate.Persistence;

/// <summary>
/// Gives FASTER's checkpoint manager <see cref="SynchronousFileDevice"/>s for its metadata and index files, laid out
/// as its default factory lays them out (<c>base/directory/file</c>), so that committing a checkpoint never waits on
/// the thread pool.
/// </summary>
internal sealed class SynchronousDeviceFactory : INamedDeviceFactory
{
    private string _baseName = ".";

    public void Initialize(string baseName) => _baseName = baseName;

    public IDevice Get(FileDescriptor fileInfo) =>
        new SynchronousFileDevice(Path.Combine(_baseName, fileInfo.directoryName ?? string.Empty, fileInfo.fileName ?? string.Empty));

    public IEnumerable<FileDescriptor> ListContents(string path)
    {
        var directory = new DirectoryInfo(Path.Combine(_baseName, path));
        if (!directory.Exists)
        {
            yield break;
        }

        // Newest first, directories then files, as FASTER's default factory lists them.
        foreach (DirectoryInfo child in directory.GetDirectories().OrderByDescending(d => d.LastWriteTimeUtc))
        {
            yield return new FileDescriptor(child.Name, string.Empty);
        }

        foreach (FileInfo file in directory.GetFiles().OrderByDescending(f => f.LastWriteTimeUtc))
        {
            yield return new FileDescriptor(string.Empty, file.Name);
        }
    }

    public void Delete(FileDescriptor fileInfo)
    {
        try
        {
            if (fileInfo.fileName is { Length: > 0 } file)
            {
                File.Delete(Path.Combine(_baseName, fileInfo.directoryName ?? string.Empty, file + ".0"));
            }
            else
            {
                var directory = new DirectoryInfo(Path.Combine(_baseName, fileInfo.directoryName ?? string.Empty));
                if (directory.Exists)
                {
                    directory.Delete(recursive: true);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // An outdated FASTER checkpoint left behind costs disk space only; Floodgate prunes whole directories.
        }
    }
}
