using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// Compile-time policies (struct type parameters, as the source generator emits) give exactly the decisions of the
/// runtime <see cref="FloodgatePolicy"/> with the same knobs.
/// </summary>
public sealed class StaticPolicyTests
{
    public static TheoryData<string> Policies => ["plain", "blocks", "shaping", "no-reset"];

    [Theory]
    [MemberData(nameof(Policies))]
    public void GeneratedAndRuntimePoliciesGiveIdenticalDecisions(string name)
    {
        switch (name)
        {
            case "plain": Compare<PlainPolicy>(seed: 1); break;
            case "blocks": Compare<BlockingPolicy>(seed: 2); break;
            case "shaping": Compare<ShapingPolicy>(seed: 3); break;
            default: Compare<NoResetPolicy>(seed: 4); break;
        }
    }

    [Fact]
    public void StaticPolicyIsValidatedAndExposedAsAPolicy()
    {
        using FloodgateLimiter limiter = FloodgateLimiter.Create<BlockingPolicy>();
        FloodgatePolicy policy = limiter.Policy;
        Assert.Equal(3, policy.PermitLimit);
        Assert.Equal(TimeSpan.FromSeconds(2), policy.Window);
        Assert.Equal(2, policy.BlockLimit);
        Assert.True(policy.RelativeBlock);

        var error = Assert.Throws<ArgumentException>(() => FloodgateLimiter.Create<BrokenPolicy>());
        Assert.Contains("broken.PermitLimit", error.Message);
    }

    private static FloodgatePolicy RuntimeEquivalent<T>()
        where T : struct, IFloodgatePolicyDefinition => new()
    {
        PermitLimit = T.PermitLimit,
        Window = TimeSpan.FromMilliseconds(T.WindowMilliseconds),
        BlockDuration = TimeSpan.FromMilliseconds(T.BlockDurationMilliseconds),
        RelativeBlock = T.RelativeBlock,
        BlockLimit = T.BlockLimit < 0 ? null : T.BlockLimit,
        BlockExceedDuration = T.BlockExceedDurationMilliseconds < 0 ? FloodgatePolicy.Forever : TimeSpan.FromMilliseconds(T.BlockExceedDurationMilliseconds),
        BlockExceedReset = T.BlockExceedReset,
        MaxWindowDuration = T.MaxWindowDurationMilliseconds < 0 ? FloodgatePolicy.Forever : TimeSpan.FromMilliseconds(T.MaxWindowDurationMilliseconds),
        AccumulateRequests = T.AccumulateRequests,
        AccumulateLimit = T.AccumulateLimit < 0 ? null : T.AccumulateLimit,
        Cooldown = TimeSpan.FromMilliseconds(T.CooldownMilliseconds),
        GracePermits = T.GracePermits,
        BlockMultiplier = T.BlockMultiplier,
        MaxBlockDuration = T.MaxBlockDurationMilliseconds < 0 ? null : TimeSpan.FromMilliseconds(T.MaxBlockDurationMilliseconds),
    };

    private static void Compare<T>(int seed)
        where T : struct, IFloodgatePolicyDefinition
    {
        var staticTime = new FakeTimeProvider(Harness.Start);
        var runtimeTime = new FakeTimeProvider(Harness.Start);
        using FloodgateLimiter generated = FloodgateLimiter.Create<T>(new FloodgateLimiterOptions { Capacity = 64, TimeProvider = staticTime });
        using var runtime = new FloodgateLimiter(RuntimeEquivalent<T>(), new FloodgateLimiterOptions { Capacity = 64, TimeProvider = runtimeTime });

        var random = new Random(seed);
        IPAddress?[] clients = [IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2"), IPAddress.Parse("2001:db8::1"), null];
        int denied = 0;
        for (int step = 0; step < 30_000; step++)
        {
            int op = random.Next(100);
            IPAddress? client = clients[random.Next(clients.Length)];
            if (op < 25)
            {
                var by = TimeSpan.FromMilliseconds(random.Next(0, 1_500) * (random.Next(20) == 0 ? 40 : 1));
                staticTime.Advance(by);
                runtimeTime.Advance(by);
            }
            else if (op < 97)
            {
                Decision a = generated.Check(client);
                Decision b = runtime.Check(client);
                Assert.Equal((b.Reason, b.Remaining, b.Limit, b.RetryAfter, b.ResetAfter), (a.Reason, a.Remaining, a.Limit, a.RetryAfter, a.ResetAfter));
                denied += a.IsAllowed ? 0 : 1;
            }
            else if (op == 97)
            {
                Assert.Equal(runtime.Unblock(client), generated.Unblock(client));
            }
            else if (op == 98 && random.Next(10) == 0)
            {
                Assert.Equal(runtime.Blacklist(client), generated.Blacklist(client));
            }
            else
            {
                Assert.Equal(runtime.Unblacklist(client), generated.Unblacklist(client));
            }

            Assert.Equal(runtime.Inspect(client) with { BlockExpiresAt = null }, generated.Inspect(client) with { BlockExpiresAt = null });
        }

        Assert.InRange(denied, 1_000, 29_000);   // the sequence exercised both outcomes
    }

    /// <summary>A plain compiled policy (5 a second, no blocks); other tests use it too.</summary>
    internal readonly struct PlainPolicy : IFloodgatePolicyDefinition
    {
        public static string Name => "plain";
        public static int PermitLimit => 5;
        public static long WindowMilliseconds => 1_000;
        public static long BlockDurationMilliseconds => 0;
        public static bool RelativeBlock => false;
        public static int BlockLimit => -1;
        public static long BlockExceedDurationMilliseconds => -1;
        public static bool BlockExceedReset => true;
        public static long MaxWindowDurationMilliseconds => 86_400_000;
        public static bool AccumulateRequests => false;
        public static int AccumulateLimit => -1;
        public static long CooldownMilliseconds => 0;
        public static int GracePermits => 0;
        public static double BlockMultiplier => 1.0;
        public static long MaxBlockDurationMilliseconds => -1;
    }

    private readonly struct BlockingPolicy : IFloodgatePolicyDefinition
    {
        public static string Name => "blocks";
        public static int PermitLimit => 3;
        public static long WindowMilliseconds => 2_000;
        public static long BlockDurationMilliseconds => 5_000;
        public static bool RelativeBlock => true;
        public static int BlockLimit => 2;
        public static long BlockExceedDurationMilliseconds => 60_000;
        public static bool BlockExceedReset => true;
        public static long MaxWindowDurationMilliseconds => 120_000;
        public static bool AccumulateRequests => false;
        public static int AccumulateLimit => -1;
        public static long CooldownMilliseconds => 0;
        public static int GracePermits => 0;
        public static double BlockMultiplier => 2.0;
        public static long MaxBlockDurationMilliseconds => 20_000;
    }

    private readonly struct ShapingPolicy : IFloodgatePolicyDefinition
    {
        public static string Name => "shaping";
        public static int PermitLimit => 4;
        public static long WindowMilliseconds => 1_000;
        public static long BlockDurationMilliseconds => 3_000;
        public static bool RelativeBlock => false;
        public static int BlockLimit => 3;
        public static long BlockExceedDurationMilliseconds => -1;
        public static bool BlockExceedReset => true;
        public static long MaxWindowDurationMilliseconds => 30_000;
        public static bool AccumulateRequests => true;
        public static int AccumulateLimit => 3;
        public static long CooldownMilliseconds => 100;
        public static int GracePermits => 2;
        public static double BlockMultiplier => 1.0;
        public static long MaxBlockDurationMilliseconds => -1;
    }

    private readonly struct NoResetPolicy : IFloodgatePolicyDefinition
    {
        public static string Name => "no-reset";
        public static int PermitLimit => 2;
        public static long WindowMilliseconds => 500;
        public static long BlockDurationMilliseconds => 1_000;
        public static bool RelativeBlock => false;
        public static int BlockLimit => 1;
        public static long BlockExceedDurationMilliseconds => 10_000;
        public static bool BlockExceedReset => false;
        public static long MaxWindowDurationMilliseconds => -1;
        public static bool AccumulateRequests => false;
        public static int AccumulateLimit => -1;
        public static long CooldownMilliseconds => 0;
        public static int GracePermits => 0;
        public static double BlockMultiplier => 1.5;
        public static long MaxBlockDurationMilliseconds => -1;
    }

    private readonly struct BrokenPolicy : IFloodgatePolicyDefinition
    {
        public static string Name => "broken";
        public static int PermitLimit => 0;
        public static long WindowMilliseconds => 1_000;
        public static long BlockDurationMilliseconds => 0;
        public static bool RelativeBlock => false;
        public static int BlockLimit => -1;
        public static long BlockExceedDurationMilliseconds => -1;
        public static bool BlockExceedReset => true;
        public static long MaxWindowDurationMilliseconds => -1;
        public static bool AccumulateRequests => false;
        public static int AccumulateLimit => -1;
        public static long CooldownMilliseconds => 0;
        public static int GracePermits => 0;
        public static double BlockMultiplier => 1.0;
        public static long MaxBlockDurationMilliseconds => -1;
    }
}
