using Microsoft.CodeAnalysis;

namespace Floodgate.Generators.Tests;

public sealed class DiagnosticTests
{
    private static Diagnostic Single(string id, string source, DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        var (_, diagnostics, _, _) = GeneratorHarness.Run(source);
        Diagnostic diagnostic = Assert.Single(diagnostics, d => d.Id == id);
        Assert.Equal(severity, diagnostic.Severity);
        Assert.NotEqual(Location.None, diagnostic.Location);
        return diagnostic;
    }

    [Theory]
    [InlineData("Window = \"1 minute\"", "Window", "1 minute")]
    [InlineData("Window = \"1m\", BlockDuration = \"15x\"", "BlockDuration", "15x")]
    [InlineData("Window = \"forever\"", "Window", "forever")]
    [InlineData("Window = \"1m\", Cooldown = \"abc\"", "Cooldown", "abc")]
    [InlineData("Window = \"10\"", "Window", "10")]
    [InlineData("Window = \"-00:01:00\"", "Window", "-00:01:00")]
    [InlineData("Window = \"00:61:00\"", "Window", "00:61:00")]
    public void UnparsableDurationIsFlood001(string arguments, string setting, string value)
    {
        Diagnostic d = Single("FLOOD001", $$"""
            using Floodgate;
            [FloodgatePolicy("login", PermitLimit = 5, {{arguments}})]
            public static partial class Policies;
            """);
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(setting, message);
        Assert.Contains($"'{value}'", message);
        Assert.Contains("'login'", message);
        Assert.Equal(1, d.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Theory]
    [InlineData("PermitLimit = 0, Window = \"1m\"", "PermitLimit", "got 0")]
    [InlineData("PermitLimit = -3, Window = \"1m\"", "PermitLimit", "got -3")]
    [InlineData("PermitLimit = 5, Window = \"0s\"", "Window", "got 0s")]
    [InlineData("PermitLimit = 5", "Window", "no value")]
    public void NonPositiveLimitOrWindowIsFlood002(string arguments, string setting, string value)
    {
        string message = Single("FLOOD002", $$"""
            using Floodgate;
            [FloodgatePolicy("api", {{arguments}})]
            public static partial class Policies;
            """).GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(setting, message);
        Assert.Contains(value, message);
    }

    [Fact]
    public void DuplicatePolicyNameIsFlood003()
    {
        Diagnostic d = Single("FLOOD003", """
            using Floodgate;
            [FloodgatePolicy("api", PermitLimit = 5, Window = "1m")]
            public static partial class A;
            [FloodgatePolicy("api", PermitLimit = 9, Window = "1m")]
            public static partial class B;
            """);
        Assert.Contains("'api'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void UnknownPolicyReferencedIsFlood004AsAMessageNotAnError()
    {
        // Runtime policies and generated ones mix on one app: the name may be configured at run time, and the
        // adapter refuses to start if it is not, so the build only says so.
        Diagnostic d = Single("FLOOD004", severity: DiagnosticSeverity.Info, source: """
            using Floodgate;
            [FloodgatePolicy("login", PermitLimit = 5, Window = "1m")]
            public static partial class Policies;
            public class Endpoints
            {
                [Floodgate("login")] public void Login() { }
                [Floodgate("logn")] public void Typo() { }
            }
            """);
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("\"logn\"", message);
        Assert.Contains("'login'", message);
        Assert.Equal(6, d.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void UnknownPolicyOnAMinimalApiStyleLambdaIsFlood004()
    {
        Diagnostic d = Single("FLOOD004", severity: DiagnosticSeverity.Info, source: """
            using System;
            using Floodgate;
            [FloodgatePolicy("api", PermitLimit = 5, Window = "1m")]
            public static partial class Policies;
            public static class Routes
            {
                public static Func<string> Handler = [Floodgate("apii")] () => "items";
                public static Func<string> Fine = [Floodgate("api")] () => "items";
            }
            """);
        Assert.Contains("\"apii\"", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AnAssemblyThatDeclaresNoPoliciesIsNotChecked()
    {
        // All its policies are configured at run time (code or appsettings.json): nothing to check them against.
        var (_, diagnostics, errors, _) = GeneratorHarness.Run("""
            using Floodgate;
            public class Endpoints
            {
                [Floodgate("api")] public void Items() { }
            }
            """);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
    }

    [Fact]
    public void RuntimePoliciesDeclaredOnTheAssemblyAreKnown()
    {
        var (_, diagnostics, errors, _) = GeneratorHarness.Run("""
            using Floodgate;
            [assembly: FloodgateRuntimePolicy("api")]
            public class Endpoints
            {
                [Floodgate("api")] public void Items() { }
            }
            """);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
    }

    [Fact]
    public void TypeThatIsNotPartialIsFlood005()
    {
        Diagnostic d = Single("FLOOD005", """
            using Floodgate;
            public static class Outer
            {
                [FloodgatePolicy("api", PermitLimit = 5, Window = "1m")]
                public static partial class Policies;
            }
            """);
        Assert.Contains("'Policies'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("MaxWindowDuration = \"10s\"", "MaxWindowDuration must be at least Window")]
    [InlineData("BlockDuration = \"5m\", MaxBlockDuration = \"1m\"", "MaxBlockDuration must be greater than 0 and at least BlockDuration")]
    [InlineData("BlockMultiplier = 0.5", "BlockMultiplier must be a finite number of at least 1.0; got 0.5")]
    [InlineData("BlockExceedDuration = \"1h\"", "BlockExceedDuration is set but BlockLimit is not")]
    [InlineData("AccumulateLimit = 3", "AccumulateLimit is set but AccumulateRequests is false")]
    [InlineData("BlockLimit = 5000", "BlockLimit must be between 0 and 4094")]
    [InlineData("MaxClientsPerPrefix = -1", "MaxClientsPerPrefix must be between 0 (off) and 16777215; got -1")]
    [InlineData("BlockDuration = \"4000d\"", "more than 10 years")]
    [InlineData("Burst = 3", "Burst applies only to Algorithm TokenBucket (this policy is FixedWindow)")]
    [InlineData("Algorithm = FloodgateAlgorithm.SlidingWindow, Burst = 3", "Burst applies only to Algorithm TokenBucket (this policy is SlidingWindow)")]
    [InlineData("Algorithm = FloodgateAlgorithm.TokenBucket, Burst = 0", "Burst must be between 1 and")]
    [InlineData("Algorithm = FloodgateAlgorithm.TokenBucket, AccumulateRequests = true", "AccumulateRequests applies only to Algorithm FixedWindow: a TokenBucket")]
    [InlineData("Algorithm = (FloodgateAlgorithm)7", "Algorithm must be FixedWindow, SlidingWindow or TokenBucket; got 7")]
    public void ContradictorySettingsAreFlood006(string arguments, string expected)
    {
        Diagnostic d = Single("FLOOD006", $$"""
            using Floodgate;
            [FloodgatePolicy("api", PermitLimit = 5, Window = "1m", {{arguments}})]
            public static partial class Policies;
            """);
        Assert.Contains(expected, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ABucketTooLargeForExactArithmeticIsFlood006()
    {
        Diagnostic d = Single("FLOOD006", """
            using Floodgate;
            [FloodgatePolicy("api", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 5, Window = "3650d", MaxWindowDuration = "forever", Burst = 8000000)]
            public static partial class Policies;
            """);
        Assert.Contains("(Burst + GracePermits + 1) × Window in ms must stay below 9007199237963776", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("[Floodgate(\"api\", Cost = 0)]", "Cost of [Floodgate(\"api\")] must be between 1 and 5 (the policy's largest request); got 0")]
    [InlineData("[Floodgate(\"api\", Cost = 6)]", "Cost of [Floodgate(\"api\")] must be between 1 and 5 (the policy's largest request); got 6")]
    [InlineData("[Floodgate(\"smooth\", Cost = 3)]", "Cost of [Floodgate(\"smooth\")] must be between 1 and 2 (the policy's largest request); got 3")]
    [InlineData("[Floodgate(\"elsewhere\", Cost = -1)]", "Cost of [Floodgate(\"elsewhere\")] must be at least 1; got -1")]
    public void ACostThePolicyCanNeverAdmitIsFlood008(string usage, string expected)
    {
        Diagnostic d = Single("FLOOD008", $$"""
            using Floodgate;
            [FloodgatePolicy("api", PermitLimit = 5, Window = "1m")]
            [FloodgatePolicy("smooth", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 5, Window = "1m", Burst = 2)]
            public static partial class Policies;
            public static class Endpoints
            {
                {{usage}}
                public static string Export() => "export";
            }
            """);
        Assert.Contains(expected, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("4x")]
    [InlineData("401;403")]
    [InlineData("600")]
    [InlineData("")]
    public void AStatusSetThatCannotBeReadIsFlood009(string codes)
    {
        Diagnostic d = Single("FLOOD009", $$"""
            using Floodgate;
            [FloodgatePolicy("login", PermitLimit = 5, Window = "1m", CountStatusCodes = "{{codes}}")]
            public static partial class Policies;
            """);
        Assert.Equal($"CountStatusCodes of Floodgate policy 'login' must be status codes (100 to 599) or classes (1xx to 5xx) separated by commas (such as 401, 401,403 or 4xx); got '{codes}'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AStatusSetWithACooldownIsFlood006()
    {
        Diagnostic d = Single("FLOOD006", """
            using Floodgate;
            [FloodgatePolicy("login", PermitLimit = 5, Window = "1m", Cooldown = "2s", CountStatusCodes = "401")]
            public static partial class Policies;
            """);
        Assert.Contains("Cooldown cannot be combined with CountStatusCodes", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void PolicyNamesMappingToOneTypeNameAreFlood007()
    {
        Diagnostic d = Single("FLOOD007", """
            using Floodgate;
            [FloodgatePolicy("api-v1", PermitLimit = 5, Window = "1m")]
            [FloodgatePolicy("api_v1", PermitLimit = 5, Window = "1m")]
            public static partial class Policies;
            """);
        Assert.Contains("'ApiV1'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AValidDeclarationHasNoDiagnostics()
    {
        var (sources, diagnostics, errors, _) = GeneratorHarness.Run("""
            using Floodgate;
            [FloodgatePolicy("login", PermitLimit = 5, Window = "1m", BlockDuration = "15m", BlockLimit = 3, BlockExceedDuration = "forever")]
            public static partial class Policies;
            """);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        Assert.Equal(2, sources.Length);
    }
}
