namespace Floodgate.Persistence;

/// <summary>Receives the records of a checkpoint as the table is scanned, so no copy of the whole table is built.</summary>
internal interface IRecordSink
{
    void Add(in PersistedKey key, in PersistedEntry entry);
}
