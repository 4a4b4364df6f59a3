using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>A limiter on a fake clock, with shorthands for the tests.</summary>
internal sealed class Harness : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public Harness(FloodgatePolicy policy, int capacity = 1024, int ipv6PrefixLength = 64)
    {
        Limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions
        {
            Capacity = capacity,
            TimeProvider = Time,
            Ipv6PrefixLength = ipv6PrefixLength,
            Name = Name,
        });
    }

    public FakeTimeProvider Time { get; } = new(Start);

    /// <summary>A unique limiter name, so metric tests see only this limiter's measurements.</summary>
    public string Name { get; } = "test-" + Guid.NewGuid().ToString("N");

    public FloodgateLimiter Limiter { get; }

    public Decision Check(string ip) => Limiter.Check(IPAddress.Parse(ip));

    public List<Decision> Check(string ip, int times)
    {
        var decisions = new List<Decision>(times);
        for (int i = 0; i < times; i++)
        {
            decisions.Add(Check(ip));
        }

        return decisions;
    }

    /// <summary>Makes requests until one is denied; returns that decision.</summary>
    public Decision CheckUntilDenied(string ip, int max = 10_000)
    {
        for (int i = 0; i < max; i++)
        {
            Decision d = Check(ip);
            if (!d.IsAllowed)
            {
                return d;
            }
        }

        throw new InvalidOperationException($"{ip} was never denied in {max} requests.");
    }

    public ClientState Inspect(string ip) => Limiter.Inspect(IPAddress.Parse(ip));

    public void Advance(TimeSpan by) => Time.Advance(by);

    public void AdvanceSeconds(double seconds) => Time.Advance(TimeSpan.FromSeconds(seconds));

    public void Dispose() => Limiter.Dispose();
}
