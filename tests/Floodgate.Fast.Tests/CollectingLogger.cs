using Microsoft.Extensions.Logging;

namespace Floodgate.Tests;

/// <summary>Keeps every log entry (id, level, message) for assertions.</summary>
internal sealed class CollectingLogger : ILogger
{
    private readonly List<(int Id, LogLevel Level, string Message)> _entries = [];

    public List<(int Id, LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public int Count(int id) => Entries.Count(e => e.Id == id);

    public void Clear()
    {
        lock (_entries)
        {
            _entries.Clear();
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((eventId.Id, logLevel, formatter(state, exception)));
        }
    }
}
