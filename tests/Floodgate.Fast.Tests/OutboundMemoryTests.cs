using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>Measurements of the whole managed heap: they run alone, so other tests' objects do not count.</summary>
[CollectionDefinition(nameof(HeapMeasurements), DisableParallelization = true)]
public sealed class HeapMeasurements;

[Collection(nameof(HeapMeasurements))]
public sealed class OutboundMemoryTests
{
    private readonly FakeTimeProvider _time = new(Harness.Start);

    private static FloodgatePolicy PerMinute(int permits) => new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) };

    [Fact]
    public async Task AMillionDistinctHostsKeepMemoryBounded()
    {
        using var client = new HttpMessageInvoker(new FloodgateOutboundHandler(new FloodgateOutboundOptions
        {
            DefaultPolicy = PerMinute(5),
            Capacity = 1 << 14,
            TimeProvider = _time,
        })
        { InnerHandler = new AnswerOk() });

        for (int i = 0; i < 10_000; i++)
        {
            using var warm = new HttpRequestMessage(HttpMethod.Get, $"http://w{i}.example.test/");
            (await client.SendAsync(warm, CancellationToken.None)).Dispose();
        }

        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < 1_000_000; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://h{i}.example.test/");
            (await client.SendAsync(request, CancellationToken.None)).Dispose();
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(after - before < 8 << 20, $"memory grew by {(after - before) >> 20} MiB over 1,000,000 hosts");
    }

    private sealed class AnswerOk : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
    }
}
