using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Generators.Tests;

public sealed class GenerationTests
{
    private const string Declarations = """
        using Floodgate;

        namespace Shop.Limits;

        public static partial class Outer
        {
            [FloodgatePolicy("login", PermitLimit = 5, Window = "1m", BlockDuration = "15m", BlockLimit = 3, BlockExceedDuration = "forever", CountStatusCodes = "401,403")]
            [FloodgatePolicy("api-v2", PermitLimit = 100, Window = "1.5s", Cooldown = "250ms", GracePermits = 2, MaxWindowDuration = "forever", Mode = FloodgatePolicyMode.Shadow)]
            internal partial class Policies;
        }
        """;

    [Theory]
    [InlineData("Shop.Limits.Outer.Policies.FloodgatePolicies.g.cs")]
    [InlineData("Floodgate.GeneratedFloodgatePolicies.g.cs")]
    public void GeneratedSourceMatchesItsBaseline(string hint)
    {
        var (sources, diagnostics, errors, _) = GeneratorHarness.Run(Declarations);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        string generated = Assert.Single(sources, s => s.Hint == hint).Text;
        if (Environment.GetEnvironmentVariable("FLOODGATE_UPDATE_BASELINES") == "1")
        {
            // bin/<Configuration>/<framework>/ -> the project's Baselines folder, to review and commit.
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Baselines", hint), generated);
        }

        string baseline = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Baselines", hint));
        Assert.Equal(baseline.ReplaceLineEndings(), generated.ReplaceLineEndings());
    }

    [Fact]
    public void AnUnrelatedEditLeavesThePipelineStepsUnchanged()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(Declarations, "public class Unrelated { }");
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(compilation);

        // Edit the unrelated file and run again: every step's output comes from the cache.
        SyntaxTree unrelated = compilation.SyntaxTrees.Last();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(unrelated, CSharpSyntaxTree.ParseText("public class Unrelated { public int X; }", (CSharpParseOptions)unrelated.Options, unrelated.FilePath));
        driver = driver.RunGenerators(edited);

        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        foreach (string step in new[] { "PolicyTypes", "Usages", "RuntimeNames" })
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} not tracked");
            var reasons = result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.NotEmpty(reasons);
            Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        }

        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o =>
            Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));
    }

    [Fact]
    public void GeneratedPoliciesCompileRegisterAndRun()
    {
        var (_, _, errors, output) = GeneratorHarness.Run(Declarations);
        Assert.Empty(errors);
        Assembly assembly = GeneratorHarness.Load(output);
        FloodgatePolicyRegistry registry = GeneratorHarness.Registry(assembly);
        Assert.Equal(["api-v2", "login"], registry.Names.Order(StringComparer.Ordinal));

        Assert.True(registry.TryGetPolicy("login", out FloodgatePolicy? login));
        Assert.Equal(5, login.PermitLimit);
        Assert.Equal(TimeSpan.FromMinutes(1), login.Window);
        Assert.Equal(TimeSpan.FromMinutes(15), login.BlockDuration);
        Assert.Equal(3, login.BlockLimit);
        Assert.Equal(FloodgatePolicy.Forever, login.BlockExceedDuration);
        Assert.Equal("401,403", login.CountStatusCodes);
        Assert.True(registry.TryGetPolicy("api-v2", out FloodgatePolicy? api));
        Assert.Equal(TimeSpan.FromMilliseconds(1_500), api.Window);
        Assert.Equal(TimeSpan.FromMilliseconds(250), api.Cooldown);
        Assert.Equal(FloodgatePolicy.Forever, api.MaxWindowDuration);
        Assert.Null(api.CountStatusCodes);
        Assert.Equal(FloodgatePolicyMode.Shadow, api.Mode);
        Assert.Equal(FloodgatePolicyMode.Enforce, login.Mode);

        using FloodgateLimiter limiter = registry.CreateLimiter("login", new FloodgateLimiterOptions { TimeProvider = new FakeTimeProvider() });
        var client = System.Net.IPAddress.Parse("192.0.2.1");
        for (int i = 0; i < 5; i++)
        {
            Assert.True(limiter.Check(client).IsAllowed);
        }

        Decision blocked = limiter.Check(client);
        Assert.Equal(DecisionReason.Blocked, blocked.Reason);
        Assert.Equal(TimeSpan.FromMinutes(15), blocked.RetryAfter);
    }

    [Fact]
    public void LoadingTheAssemblyRegistersItsPoliciesProcessWideForAddFloodgate()
    {
        string name = "loaded-" + Guid.NewGuid().ToString("N")[..8];
        var (_, _, errors, output) = GeneratorHarness.Run($$"""
            using Floodgate;
            namespace Shop;
            [FloodgatePolicy("{{name}}", PermitLimit = 7, Window = "1m")]
            public static partial class Limits;
            """);
        Assert.Empty(errors);
        Assert.DoesNotContain(name, FloodgatePolicyRegistry.Generated.Names);

        // Touching the assembly runs its module initializer, as an app's own assembly does before Main.
        GeneratorHarness.Registry(GeneratorHarness.Load(output));
        Assert.Contains(name, FloodgatePolicyRegistry.Generated.Names);
        Assert.True(FloodgatePolicyRegistry.Generated.IsPrecompiled(name));
        Assert.Contains("Shop.Limits.", FloodgatePolicyRegistry.Generated.GetSource(name));
        Assert.Contains("(Consumer)", FloodgatePolicyRegistry.Generated.GetSource(name));
        using FloodgateLimiter limiter = FloodgatePolicyRegistry.Generated.CreateLimiter(name);
        Assert.Equal(7, limiter.Policy.PermitLimit);
    }

    [Fact]
    public void TwoAssembliesDeclaringOneNameAreAConflictNotAnException()
    {
        string name = "twice-" + Guid.NewGuid().ToString("N")[..8];
        string Declare(string type) => $$"""
            using Floodgate;
            [FloodgatePolicy("{{name}}", PermitLimit = 7, Window = "1m")]
            public static partial class {{type}};
            """;
        GeneratorHarness.Registry(GeneratorHarness.Load(GeneratorHarness.Run(Declare("First")).Output));
        GeneratorHarness.Registry(GeneratorHarness.Load(GeneratorHarness.Run(Declare("Second")).Output));

        string conflict = Assert.Single(FloodgatePolicyRegistry.Generated.Conflicts, c => c.Contains(name, StringComparison.Ordinal));
        Assert.Contains("First.", conflict);
        Assert.Contains("Second.", conflict);
    }

    [Theory]
    [InlineData("1m", "00:01:00")]
    [InlineData("1.5s", "00:00:01.5")]
    [InlineData("1d", "1.00:00:00")]
    [InlineData("250ms", "00:00:00.25")]
    public void BothDurationSyntaxesCompileToTheSamePolicy(string shortForm, string timeSpanForm)
    {
        FloodgatePolicy Compile(string window)
        {
            var (_, diagnostics, errors, output) = GeneratorHarness.Run($$"""
                using Floodgate;
                [FloodgatePolicy("api", PermitLimit = 5, Window = "{{window}}", Cooldown = "{{window}}")]
                public static partial class Policies;
                """);
            Assert.Empty(diagnostics);
            Assert.Empty(errors);
            Assert.True(GeneratorHarness.Registry(GeneratorHarness.Load(output)).TryGetPolicy("api", out FloodgatePolicy? policy));
            return policy;
        }

        FloodgatePolicy a = Compile(shortForm), b = Compile(timeSpanForm);
        Assert.Equal(FloodgateDuration.Parse(shortForm), a.Window);
        Assert.Equal(a.Window, b.Window);
        Assert.Equal(a.Cooldown, b.Cooldown);
    }

    [Fact]
    public void GeneratedAndRuntimePoliciesGiveIdenticalDecisionsOnRandomSequences()
    {
        var random = new Random(4242);
        var policies = Enumerable.Range(0, 8).Select(i => RandomPolicy(random, $"p{i}")).ToList();
        string source = "using Floodgate;\n" +
            string.Join("\n", policies.Select(p => p.Attribute)) + "\npublic static partial class RandomPolicies;\n";
        var (_, diagnostics, errors, output) = GeneratorHarness.Run(source);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        FloodgatePolicyRegistry registry = GeneratorHarness.Registry(GeneratorHarness.Load(output));

        System.Net.IPAddress?[] clients = [System.Net.IPAddress.Parse("192.0.2.1"), System.Net.IPAddress.Parse("192.0.2.2"), System.Net.IPAddress.Parse("192.0.2.3"), System.Net.IPAddress.Parse("2001:db8::1"), null];
        foreach ((string name, FloodgatePolicy runtimePolicy, _) in policies)
        {
            var generatedTime = new FakeTimeProvider();
            var runtimeTime = new FakeTimeProvider();
            using FloodgateLimiter generated = registry.CreateLimiter(name, new FloodgateLimiterOptions { Capacity = 64, TimeProvider = generatedTime });
            using var runtime = new FloodgateLimiter(runtimePolicy, new FloodgateLimiterOptions { Capacity = 64, TimeProvider = runtimeTime });
            for (int step = 0; step < 5_000; step++)
            {
                if (random.Next(4) == 0)
                {
                    var by = TimeSpan.FromMilliseconds(random.Next(0, 3_000));
                    generatedTime.Advance(by);
                    runtimeTime.Advance(by);
                    continue;
                }

                var client = clients[random.Next(clients.Length)];
                Decision a = generated.Check(client);
                Decision b = runtime.Check(client);
                Assert.True(
                    (a.Reason, a.Remaining, a.RetryAfter, a.ResetAfter) == (b.Reason, b.Remaining, b.RetryAfter, b.ResetAfter),
                    $"{name} step {step}: generated {a}, runtime {b}");
            }
        }
    }

    /// <summary>A random valid policy: its attribute text and the runtime policy with the same knobs.</summary>
    private static (string Name, FloodgatePolicy Policy, string Attribute) RandomPolicy(Random random, string name)
    {
        int permits = random.Next(1, 8);
        int windowMs = random.Next(1, 40) * 100;
        int blockMs = random.Next(3) == 0 ? 0 : random.Next(1, 50) * 100;
        int blockLimit = random.Next(3) == 0 ? -1 : random.Next(0, 4);
        bool forever = random.Next(2) == 0;
        int exceedMs = random.Next(1, 100) * 1000;
        int cooldownMs = random.Next(3) == 0 ? random.Next(1, 5) * 50 : 0;
        int grace = random.Next(3) == 0 ? random.Next(1, 3) : 0;
        bool accumulate = random.Next(3) == 0;
        double multiplier = random.Next(2) == 0 ? 1.0 : 1.5 + random.Next(3);
        bool relative = random.Next(3) == 0;
        bool reset = random.Next(3) != 0;
        int perPrefix = random.Next(3) switch { 0 => 1, 1 => 2, _ => FloodgatePolicy.DefaultMaxClientsPerPrefix };

        var policy = new FloodgatePolicy
        {
            PermitLimit = permits,
            Window = TimeSpan.FromMilliseconds(windowMs),
            BlockDuration = TimeSpan.FromMilliseconds(blockMs),
            RelativeBlock = relative,
            BlockLimit = blockLimit < 0 ? null : blockLimit,
            BlockExceedDuration = blockLimit < 0 || forever ? FloodgatePolicy.Forever : TimeSpan.FromMilliseconds(exceedMs),
            BlockExceedReset = reset,
            MaxWindowDuration = TimeSpan.FromMinutes(2),
            AccumulateRequests = accumulate,
            Cooldown = TimeSpan.FromMilliseconds(cooldownMs),
            GracePermits = grace,
            BlockMultiplier = multiplier,
            MaxClientsPerPrefix = perPrefix,
        };

        string exceed = blockLimit < 0 ? string.Empty : $", BlockLimit = {blockLimit}, BlockExceedDuration = \"{(forever ? "forever" : exceedMs + "ms")}\"";
        string attribute = $"[FloodgatePolicy(\"{name}\", PermitLimit = {permits}, Window = \"{windowMs}ms\", BlockDuration = \"{blockMs}ms\", " +
            $"RelativeBlock = {(relative ? "true" : "false")}, BlockExceedReset = {(reset ? "true" : "false")}, MaxWindowDuration = \"2m\", " +
            $"AccumulateRequests = {(accumulate ? "true" : "false")}, Cooldown = \"{cooldownMs}ms\", GracePermits = {grace}, " +
            $"BlockMultiplier = {multiplier.ToString(System.Globalization.CultureInfo.InvariantCulture)}, MaxClientsPerPrefix = {perPrefix}{exceed})]";
        return (name, policy, attribute);
    }
}
