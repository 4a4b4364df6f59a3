using System.Diagnostics;
using Xunit;

namespace Floodgate.Tests.Shared;

/// <summary>
/// Waits for what the code under test does in the background (a message between instances, a sync): polls the
/// observable condition, never sleeps a fixed time. The bound is generous on purpose: what takes milliseconds on
/// a quiet machine can stall for seconds on a loaded CI machine, and a test fails only when it never happens.
/// </summary>
internal static class Eventually
{
    /// <summary>The longest wait for something the product does within milliseconds.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Waits until <paramref name="condition"/> holds; fails naming <paramref name="what"/> after <paramref name="bound"/>.</summary>
    /// <returns>How long it took.</returns>
    public static async Task<TimeSpan> WaitAsync(Func<Task<bool>> condition, string what, TimeSpan? bound = null)
    {
        TimeSpan limit = bound ?? Bound;
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed < limit, $"{what}: not within {limit.TotalSeconds:0.#} s");
            await Task.Delay(10);
        }

        return watch.Elapsed;
    }

    /// <inheritdoc cref="WaitAsync(Func{Task{bool}}, string, TimeSpan?)"/>
    public static Task<TimeSpan> WaitAsync(Func<bool> condition, string what, TimeSpan? bound = null) =>
        WaitAsync(() => Task.FromResult(condition()), what, bound);
}
