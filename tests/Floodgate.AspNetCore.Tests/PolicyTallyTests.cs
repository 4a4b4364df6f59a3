using System.Net;
using Floodgate.AspNetCore.Dashboard;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The dashboard's list of most refused clients under attack: a flood of distinct addresses cannot hide the real offender or grow it.</summary>
public sealed class PolicyTallyTests
{
    [Fact]
    public void AFloodOfDistinctAddressesNeitherGrowsTheListNorHidesTheHeaviestOffender()
    {
        var tally = new PolicyTally();
        IpKey offender = IpKey.Create(IPAddress.Parse("203.0.113.7"));
        for (int i = 0; i < 50_000; i++)
        {
            tally.Refused(IpKey.Create(new IPAddress(BitConverter.GetBytes(0x0A000000 + i))));   // each once
            if (i % 10 == 0)
            {
                tally.Refused(in offender);   // 5,000 times, spread through the flood
            }
        }

        List<(IpKey Client, long Refusals)> top = tally.Top(PolicyTally.Capacity + 10);
        Assert.Equal(PolicyTally.Capacity, top.Count);   // bounded, whatever the flood
        Assert.Equal(offender, top[0].Client);
        Assert.InRange(top[0].Refusals, 5_000, 5_000 + 50_000);   // Space-Saving: never under the true count
        Assert.Equal(55_000, tally.Refusals);   // the total is exact
    }

    [Fact]
    public async Task RefusalsFromManyThreadsAreAllCountedAndNoneWaits()
    {
        var tally = new PolicyTally();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                tally.Refused(IpKey.Create(new IPAddress(BitConverter.GetBytes(0x0B000000 + (t * 100) + (i % 100)))));
            }
        })));

        Assert.Equal(80_000, tally.Refusals);

        // Space-Saving keeps the sum: an evicted client's count passes to its successor. What the busy try-lock left out is counted apart.
        Assert.Equal(80_000, tally.Top(PolicyTally.Capacity).Sum(c => c.Refusals) + tally.Untallied);
    }
}
