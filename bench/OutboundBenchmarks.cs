using System.Net;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Floodgate.Bench;

/// <summary>
/// Per-request overhead of a per-host outbound limit, over an in-memory inner handler, 1,000 hosts in turn, allow
/// path. Baseline: a <see cref="DelegatingHandler"/> doing the same job with System.Threading.RateLimiting
/// (a partitioned fixed-window limiter keyed by host, failing fast when no permit is available).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class OutboundBenchmarks
{
    private const int Hosts = 1_000;
    private const int RequestsPerInvoke = 10_000;

    private HttpRequestMessage[] _requests = [];
    private HttpMessageInvoker _none = null!;
    private HttpMessageInvoker _builtIn = null!;
    private HttpMessageInvoker _floodgate = null!;

    [GlobalSetup]
    public void Setup()
    {
        _requests = Enumerable.Range(0, Hosts).Select(i => new HttpRequestMessage(HttpMethod.Get, $"https://h{i}.example.test/items")).ToArray();
        _none = new HttpMessageInvoker(new AnswerOk());
        _builtIn = new HttpMessageInvoker(new RateLimitingHandler { InnerHandler = new AnswerOk() });
        _floodgate = new HttpMessageInvoker(new FloodgateOutboundHandler(new FloodgateOutboundOptions
        {
            DefaultPolicy = new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromHours(1) },
            Capacity = 4_096,
        })
        { InnerHandler = new AnswerOk() });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _none.Dispose();
        _builtIn.Dispose();
        _floodgate.Dispose();
    }

    [Benchmark(OperationsPerInvoke = RequestsPerInvoke)]
    public Task NoLimit() => Run(_none);

    [Benchmark(Baseline = true, OperationsPerInvoke = RequestsPerInvoke)]
    public Task BuiltIn() => Run(_builtIn);

    [Benchmark(OperationsPerInvoke = RequestsPerInvoke)]
    public Task Floodgate() => Run(_floodgate);

    private async Task Run(HttpMessageInvoker invoker)
    {
        for (int i = 0; i < RequestsPerInvoke; i++)
        {
            await invoker.SendAsync(_requests[i % Hosts], CancellationToken.None);
        }
    }

    /// <summary>Answers every request with one cached response: the benchmark measures the limiting, not the inner handler.</summary>
    private sealed class AnswerOk : HttpMessageHandler
    {
        private static readonly Task<HttpResponseMessage> s_ok = Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => s_ok;
    }

    /// <summary>The same per-host job with System.Threading.RateLimiting.</summary>
    private sealed class RateLimitingHandler : DelegatingHandler
    {
        private readonly PartitionedRateLimiter<HttpRequestMessage> _limiter = PartitionedRateLimiter.Create<HttpRequestMessage, string>(request =>
            RateLimitPartition.GetFixedWindowLimiter(request.RequestUri!.IdnHost, _ =>
                new FixedWindowRateLimiterOptions { PermitLimit = 1_000_000, Window = TimeSpan.FromHours(1), QueueLimit = 0 }));

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            using RateLimitLease lease = _limiter.AttemptAcquire(request);
            if (!lease.IsAcquired)
            {
                throw new HttpRequestException($"Rate limited: {request.RequestUri!.IdnHost}");
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _limiter.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
