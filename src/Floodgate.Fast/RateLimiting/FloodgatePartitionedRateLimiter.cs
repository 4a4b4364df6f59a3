using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Threading.RateLimiting;

namespace Floodgate;

/// <summary>
/// A <see cref="FloodgateLimiter"/> seen as a <see cref="PartitionedRateLimiter{TResource}"/>, partitioned by the
/// client address each resource maps to: what ASP.NET Core's <c>UseRateLimiter()</c>, Polly's and
/// Microsoft.Extensions.Http.Resilience's rate-limiter strategies and YARP talk to. Each acquisition is one
/// Floodgate check (blocks, blacklists, lists and events keep working behind it); it never queues.
/// </summary>
/// <typeparam name="TResource">What is limited (an <c>HttpContext</c>, a request message, ...).</typeparam>
internal sealed class FloodgatePartitionedRateLimiter<TResource> : PartitionedRateLimiter<TResource>
{
    private static readonly RateLimitLease s_acquired = new AcquiredLease();

    private readonly FloodgateLimiter _limiter;
    private readonly Func<TResource, IPAddress?> _address;
    private readonly Func<TResource, string?>? _key;
    private readonly FloodgateKeyHasher? _hasher;
    private long _successful;
    private long _failed;

    public FloodgatePartitionedRateLimiter(FloodgateLimiter limiter, Func<TResource, IPAddress?> address, Func<TResource, string?>? key, FloodgateKeyHasher? hasher)
    {
        _limiter = limiter;
        _address = address;
        _key = key;
        _hasher = hasher;
    }

    /// <summary>The resource's key hash, when it is partitioned by a key and has one; false: by its address.</summary>
    private bool TryKeyOf(TResource resource, out IpKey key)
    {
        if (_key?.Invoke(resource) is { Length: > 0 } value)
        {
            key = _hasher!.Hash(value);
            return true;
        }

        key = default;
        return false;
    }

    private ClientState Inspect(TResource resource) => TryKeyOf(resource, out IpKey key) ? _limiter.Inspect(key) : _limiter.Inspect(_address(resource));

    public override RateLimiterStatistics? GetStatistics(TResource resource)
    {
        ClientState state = Inspect(resource);
        return new RateLimiterStatistics
        {
            CurrentAvailablePermits = state.IsBlocked || state.IsBlacklisted || state.IsDenylisted ? 0 : state.Remaining,
            CurrentQueuedCount = 0,
            TotalSuccessfulLeases = Interlocked.Read(ref _successful),
            TotalFailedLeases = Interlocked.Read(ref _failed),
        };
    }

    protected override RateLimitLease AttemptAcquireCore(TResource resource, int permitCount)
    {
        if (permitCount == 0 || permitCount > _limiter.MaxCost)
        {
            return permitCount == 0 ? Probe(resource) : Unsupported(permitCount);
        }

        // A count above 1 is the request's cost: all the permits or none.
        Decision decision = TryKeyOf(resource, out IpKey key)
            ? _limiter.CheckKey(_address(resource), in key, permitCount)
            : _limiter.Check(_address(resource), permitCount);
        if (decision.IsAllowed)
        {
            Interlocked.Increment(ref _successful);
            return s_acquired;   // the success path allocates nothing
        }

        Interlocked.Increment(ref _failed);
        return new RejectedLease(decision.RetryAfter, ReasonPhrase(decision.Reason), decision.Reason is DecisionReason.Blacklisted or DecisionReason.Denylisted);
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(TResource resource, int permitCount, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<RateLimitLease>(AttemptAcquireCore(resource, permitCount));   // never queues: the answer is at once
    }

    /// <summary>Nothing to release: the limiter belongs to its creator.</summary>
    protected override void Dispose(bool disposing)
    {
    }

    /// <summary>The reason phrase of a refusal, as an HTTP reason phrase would put it.</summary>
    internal static string ReasonPhrase(DecisionReason reason) => reason switch
    {
        DecisionReason.RateLimited => "Too many requests",
        DecisionReason.Cooldown => "Too many requests: cooling down",
        DecisionReason.Blocked => "Too many requests: temporarily blocked",
        DecisionReason.Blacklisted => "Forbidden: blacklisted",
        DecisionReason.Denylisted => "Forbidden: denylisted",
        _ => "Allowed",
    };

    /// <summary>A permit count of 0 asks whether a permit is there now, without taking one (as the built-in limiters do).</summary>
    private RateLimitLease Probe(TResource resource)
    {
        ClientState state = Inspect(resource);
        if (state.IsAllowlisted || (!state.IsBlocked && !state.IsBlacklisted && !state.IsDenylisted && state.Remaining > 0))
        {
            return s_acquired;
        }

        DecisionReason reason = state.IsDenylisted ? DecisionReason.Denylisted : state.IsBlacklisted ? DecisionReason.Blacklisted : state.IsBlocked ? DecisionReason.Blocked : DecisionReason.RateLimited;
        TimeSpan retry = state.BlockExpiresAt is { } end ? end - _limiter.TimeProvider.GetUtcNow() : state.ResetAfter;
        return new RejectedLease(retry < TimeSpan.Zero ? TimeSpan.Zero : retry, ReasonPhrase(reason), reason is DecisionReason.Blacklisted or DecisionReason.Denylisted);
    }

    private RateLimitLease Unsupported(int permitCount)
    {
        Interlocked.Increment(ref _failed);
        return new RejectedLease(null, $"A permit count above the policy's largest request ({_limiter.MaxCost}) can never be granted; got {permitCount}.", forbidden: false);
    }

    private sealed class AcquiredLease : RateLimitLease
    {
        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            // Shared by every acquisition: nothing to release.
        }
    }

    /// <summary>A refusal: <c>RETRY_AFTER</c> (unless the client is forbidden for good) and <c>REASON_PHRASE</c>.</summary>
    private sealed class RejectedLease(TimeSpan? retryAfter, string reasonPhrase, bool forbidden) : RateLimitLease
    {
        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames =>
            retryAfter is null || forbidden ? [MetadataName.ReasonPhrase.Name] : [MetadataName.RetryAfter.Name, MetadataName.ReasonPhrase.Name];

        public override bool TryGetMetadata(string metadataName, [NotNullWhen(true)] out object? metadata)
        {
            if (metadataName == MetadataName.RetryAfter.Name && retryAfter is { } retry && !forbidden)
            {
                metadata = retry;
                return true;
            }

            if (metadataName == MetadataName.ReasonPhrase.Name)
            {
                metadata = reasonPhrase;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
