using Microsoft.Extensions.Logging;

namespace Floodgate.Tests.Shared;

/// <summary>Keeps every log entry, for tests that assert on logs.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly List<(int Id, LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(int Id, LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Gets the lowest level kept (Information unless a test wants the debug lines too).</summary>
    public LogLevel MinimumLevel { get; init; } = LogLevel.Information;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((eventId.Id, logLevel, formatter(state, exception) + (exception is null ? string.Empty : " " + exception.GetType().Name + ": " + exception.Message)));
            }
        }
    }
}
