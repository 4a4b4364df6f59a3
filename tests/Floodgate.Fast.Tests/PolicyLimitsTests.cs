using Floodgate.Internal;

namespace Floodgate.Tests;

/// <summary>The policy limits' one home agrees with the packed fields that impose them, and validation enforces them.</summary>
public sealed class PolicyLimitsTests
{
    [Fact]
    public void EachLimitFollowsFromItsFieldsWidth()
    {
        Assert.Equal(OffenseWord.MaxCount - 1, PolicyLimits.MaxBlockLimit);       // a client must be able to pass the limit by one
        Assert.Equal(WindowWord.MaxCounter - 1, PolicyLimits.MaxTotalPermits);    // one counter value kept for "over"
        Assert.Equal(WindowWord.SlidingCountMask - 1, PolicyLimits.MaxSlidingPermits);   // a sliding window's count, below its previous-count flag
        Assert.Equal(WindowWord.SlidingCountMask + 1, WindowWord.PreviousBit);
        Assert.Equal(WindowSketch.MaxCount, PolicyLimits.MaxClientsPerPrefix);
        Assert.Equal(FloodgatePolicy.MaxFiniteDuration, TimeSpan.FromDays(3_650));
    }

    [Fact]
    public void ValidationAcceptsEachLimitAndRefusesOneMore()
    {
        FloodgatePolicy At(Action<FloodgatePolicy> set)
        {
            var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromSeconds(1) };
            set(policy);
            return policy;
        }

        Assert.Empty(At(p => p.BlockLimit = PolicyLimits.MaxBlockLimit).Validate());
        Assert.Contains(At(p => p.BlockLimit = PolicyLimits.MaxBlockLimit + 1).Validate(), e => e.Contains("BlockLimit", StringComparison.Ordinal));
        Assert.Empty(At(p => p.PermitLimit = PolicyLimits.MaxTotalPermits).Validate());
        Assert.Contains(At(p => p.PermitLimit = PolicyLimits.MaxTotalPermits + 1).Validate(), e => e.Contains("must not exceed", StringComparison.Ordinal));
        Assert.Empty(At(p => p.MaxClientsPerPrefix = PolicyLimits.MaxClientsPerPrefix).Validate());
        Assert.Contains(At(p => p.MaxClientsPerPrefix = PolicyLimits.MaxClientsPerPrefix + 1).Validate(), e => e.Contains("MaxClientsPerPrefix", StringComparison.Ordinal));
        Assert.Empty(At(p => (p.Window, p.MaxWindowDuration) = (FloodgatePolicy.MaxFiniteDuration, FloodgatePolicy.Forever)).Validate());
        Assert.Contains(At(p => (p.Window, p.MaxWindowDuration) = (FloodgatePolicy.MaxFiniteDuration + TimeSpan.FromMilliseconds(1), FloodgatePolicy.Forever)).Validate(),
            e => e.Contains("Window must be at least 1 ms and at most 10 years", StringComparison.Ordinal));
    }
}
