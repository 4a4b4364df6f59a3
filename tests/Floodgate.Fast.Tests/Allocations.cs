namespace Floodgate.Tests;

/// <summary>Allocation checks that tell the code under test apart from the runtime's own one-off work.</summary>
internal static class Allocations
{
    /// <summary>
    /// Runs <paramref name="pass"/> once to warm up, then measures up to <paramref name="attempts"/> further passes
    /// and requires one of them to allocate nothing on this thread. An allocation in the code under test repeats
    /// in every pass of the same workload; the runtime's one-off work on the calling thread (tier-up, on-stack
    /// replacement, type loading) does not, so it cannot fail the check by chance.
    /// </summary>
    public static void AssertNone(Action pass, int attempts = 3)
    {
        pass();
        var measured = new long[attempts];
        for (int i = 0; i < attempts; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            pass();
            measured[i] = GC.GetAllocatedBytesForCurrentThread() - before;
            if (measured[i] == 0)
            {
                return;
            }
        }

        Assert.Fail($"Every measured pass allocated: {string.Join(", ", measured)} bytes.");
    }
}
