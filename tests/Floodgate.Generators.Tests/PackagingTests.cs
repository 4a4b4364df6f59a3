using Floodgate.Tests.Shared;

namespace Floodgate.Generators.Tests;

/// <summary>
/// The generator ships inside the Floodgate.Fast package: a project that references the package (not the
/// projects) gets the generated policies, and a mistake in an attribute fails its build with the FLOOD id.
/// </summary>
public sealed class PackagingTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "floodgate-consumer-" + Guid.NewGuid().ToString("N"));
    private readonly string _version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }

        // The test package was restored into the global cache under its one-off version: remove it.
        DotnetCli.RemoveFromGlobalCache(_version, "Floodgate.Fast");
    }

    [Fact]
    public void AConsumerOfThePackageGetsTheGeneratorAndItsDiagnostics()
    {
        // Pack what was built.
        string feed = Path.Combine(_work, "feed");
        Directory.CreateDirectory(_work);
        DotnetCli.Run(["pack", Path.Combine(Repository.Root, "src", "Floodgate.Fast", "Floodgate.Fast.csproj"), "-c", Repository.Configuration, "--no-build",
            "-o", feed, $"-p:PackageVersion={_version}"], _work, expectSuccess: true);

        string consumer = Path.Combine(_work, "consumer");
        Directory.CreateDirectory(consumer);
        DotnetCli.WriteLocalFeedConfig(consumer, feed);
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Floodgate.Fast" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), """
            using Floodgate;

            var registry = new FloodgatePolicyRegistry().AddFloodgatePolicies();
            using FloodgateLimiter limiter = registry.CreateLimiter("login");
            var client = System.Net.IPAddress.Parse("192.0.2.1");
            Console.WriteLine(string.Join(" ", Enumerable.Range(0, 3).Select(_ => limiter.Check(client).Reason)));

            [FloodgatePolicy("login", PermitLimit = 2, Window = "1m")]
            static partial class Policies;
            """);
        string ran = DotnetCli.Run(["run", "-c", "Release"], consumer, expectSuccess: true);
        Assert.Contains("Allowed Allowed RateLimited", ran);

        File.WriteAllText(Path.Combine(consumer, "Program.cs"), """
            using Floodgate;

            [FloodgatePolicy("login", PermitLimit = 0, Window = "1m")]
            static partial class Policies;
            """);
        string failed = DotnetCli.Run(["build", "-c", "Release"], consumer, expectSuccess: false);
        Assert.Contains("error FLOOD002", failed);
        Assert.Contains("PermitLimit of Floodgate policy 'login' must be greater than 0; got 0", failed);
    }
}
