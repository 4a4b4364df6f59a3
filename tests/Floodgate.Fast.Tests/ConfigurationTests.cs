namespace Floodgate.Tests;

public sealed class ConfigurationTests
{
    private static FloodgatePolicy Valid() => new() { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) };

    public static TheoryData<Action<FloodgatePolicy>, string, string> InvalidPolicies => new()
    {
        { p => p.PermitLimit = 0, "PermitLimit", "got 0" },
        { p => p.PermitLimit = -5, "PermitLimit", "got -5" },
        { p => p.Window = TimeSpan.Zero, "Window", "got 00:00:00" },
        { p => p.Window = TimeSpan.FromSeconds(-1), "Window", "got -00:00:01" },
        { p => p.BlockDuration = TimeSpan.FromSeconds(-3), "BlockDuration", "got -00:00:03" },
        { p => p.Cooldown = TimeSpan.FromMinutes(-1), "Cooldown", "got -00:01:00" },
        { p => p.BlockLimit = -1, "BlockLimit", "got -1" },
        { p => p.BlockLimit = 5000, "BlockLimit", "got 5000" },
        { p => p.BlockExceedDuration = TimeSpan.Zero, "BlockExceedDuration", "got 00:00:00" },
        { p => p.MaxWindowDuration = TimeSpan.FromMilliseconds(500), "MaxWindowDuration", "got 00:00:00.5000000" },
        { p => p.AccumulateLimit = -2, "AccumulateLimit", "got -2" },
        { p => p.GracePermits = -1, "GracePermits", "got -1" },
        { p => p.BlockMultiplier = double.NaN, "BlockMultiplier", "got NaN" },
        { p => p.BlockMultiplier = double.PositiveInfinity, "BlockMultiplier", "got Infinity" },
        { p => p.BlockMultiplier = 0.5, "BlockMultiplier", "got 0.5" },
        { p => { p.BlockDuration = TimeSpan.FromMinutes(5); p.MaxBlockDuration = TimeSpan.FromMinutes(1); }, "MaxBlockDuration", "got 00:01:00" },
        { p => p.MaxBlockDuration = TimeSpan.Zero, "MaxBlockDuration", "got 00:00:00" },
        { p => p.PermitLimit = FloodgatePolicy.MaxTotalPermits + 1, "PermitLimit + GracePermits + AccumulateLimit", "got 8388607" },
        { p => p.Window = TimeSpan.MaxValue, "Window", "got Forever" },
        { p => p.BlockDuration = TimeSpan.FromDays(4_000), "BlockDuration", "got 4000.00:00:00" },
        { p => p.MaxClientsPerPrefix = -1, "MaxClientsPerPrefix", "got -1" },
        { p => p.MaxClientsPerPrefix = 1 << 24, "MaxClientsPerPrefix", "got 16777216" },
    };

    [Theory]
    [MemberData(nameof(InvalidPolicies))]
    public void InvalidPolicyIsRejectedNamingTheSettingAndValue(Action<FloodgatePolicy> breakIt, string setting, string value)
    {
        FloodgatePolicy policy = Valid();
        breakIt(policy);
        var error = Assert.Throws<ArgumentException>(() => new FloodgateLimiter(policy));
        Assert.Contains($"FloodgatePolicy.{setting} ", error.Message);
        Assert.Contains(value, error.Message);
    }

    [Fact]
    public void EveryErrorIsReportedAtOnce()
    {
        var policy = new FloodgatePolicy { PermitLimit = 0, Window = TimeSpan.Zero, GracePermits = -1 };
        var error = Assert.Throws<ArgumentException>(() => new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = 0 }));
        Assert.Contains("PermitLimit", error.Message);
        Assert.Contains("Window", error.Message);
        Assert.Contains("GracePermits", error.Message);
        Assert.Contains("Capacity", error.Message);
    }

    public static TheoryData<Action<FloodgateLimiterOptions>, string, string> InvalidOptions => new()
    {
        { o => o.Capacity = 0, "Capacity", "got 0" },
        { o => o.Capacity = -1, "Capacity", "got -1" },
        { o => o.Capacity = FloodgateLimiterOptions.MaxCapacity + 1, "Capacity", "got 67108865" },
        { o => o.Ipv6PrefixLength = 47, "Ipv6PrefixLength", "got 47" },
        { o => o.Ipv6PrefixLength = 129, "Ipv6PrefixLength", "got 129" },
        { o => o.Ipv4NetworkPrefixLength = 7, "Ipv4NetworkPrefixLength", "got 7" },
        { o => o.Ipv4NetworkPrefixLength = 33, "Ipv4NetworkPrefixLength", "got 33" },
        { o => o.Ipv6NetworkPrefixLength = 15, "Ipv6NetworkPrefixLength", "got 15" },
        { o => o.Ipv6NetworkPrefixLength = 65, "Ipv6NetworkPrefixLength", "got 65" },
        { o => o.TimeProvider = null!, "TimeProvider", "got null" },
        { o => o.Name = " ", "Name", "got ' '" },
        { o => o.DataDirectory = "  ", "DataDirectory", "got '  '" },
        { o => o.CheckpointInterval = TimeSpan.FromMilliseconds(10), "CheckpointInterval", "got 00:00:00.0100000" },
        { o => o.CheckpointInterval = TimeSpan.Zero, "CheckpointInterval", "got 00:00:00" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void InvalidOptionsAreRejectedNamingTheSettingAndValue(Action<FloodgateLimiterOptions> breakIt, string setting, string value)
    {
        var options = new FloodgateLimiterOptions();
        breakIt(options);
        var error = Assert.Throws<ArgumentException>(() => new FloodgateLimiter(Valid(), options));
        Assert.Contains($"FloodgateLimiterOptions.{setting} ", error.Message);
        Assert.Contains(value, error.Message);
    }

    [Fact]
    public void ValidEdgeValuesAreAccepted()
    {
        var policy = new FloodgatePolicy
        {
            PermitLimit = 1,
            Window = TimeSpan.FromMilliseconds(1),
            BlockLimit = 0,
            MaxWindowDuration = FloodgatePolicy.Forever,
            BlockExceedDuration = FloodgatePolicy.Forever,
            BlockMultiplier = 1.0,
        };
        Assert.Empty(policy.Validate());
        using var limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = 1, Ipv6PrefixLength = 48 });
        Assert.Equal(16, limiter.Capacity);
    }

    [Fact]
    public void CapacityIsRoundedUpToAPowerOfTwo()
    {
        using var limiter = new FloodgateLimiter(Valid(), new FloodgateLimiterOptions { Capacity = 100_000 });
        Assert.Equal(131_072, limiter.Capacity);
    }

    [Fact]
    public void PolicyIsCopiedAtConstruction()
    {
        FloodgatePolicy policy = Valid();
        using var limiter = new FloodgateLimiter(policy);
        policy.PermitLimit = -1;
        Assert.Equal(10, limiter.Policy.PermitLimit);
    }
}
