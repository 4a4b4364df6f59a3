using Floodgate.AspNetCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>A health check for Floodgate: degraded while a promise is not kept (state not saved, Redis not answering, a table under overflow pressure).</summary>
public static class FloodgateHealthCheckBuilderExtensions
{
    /// <summary>
    /// Adds the <c>floodgate</c> health check: healthy, or degraded (limits still apply) while checkpoints or the ban
    /// journal are failing, while Redis does not answer and checks follow the outage policy, or while a table overflowed
    /// since the previous check; the description says which.
    /// </summary>
    /// <param name="builder">The health checks.</param>
    /// <param name="name">The check's name.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddFloodgate(this IHealthChecksBuilder builder, string name = "floodgate") =>
        builder.AddCheck<FloodgateHealthCheck>(name);
}

/// <summary>Reports the policies, their persistence, their shared store and their tables' pressure.</summary>
internal sealed class FloodgateHealthCheck(FloodgateService service) : IHealthCheck
{
    // A rise of a policy's overflow count since the previous check (kept on the service: checks are created per run) is
    // pressure now; the first check compares with the start.
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var failing = new List<string>();
        var journals = new List<string>();
        var unreachable = service.Remote.Where(r => !r.Value.IsAvailable).Select(r => r.Key).Order(StringComparer.Ordinal).ToList();
        var pressed = new List<string>();
        foreach ((string name, Floodgate.FloodgateLimiter limiter) in service.Limiters)
        {
            long overflow = limiter.OverflowCount;
            long before = service.OverflowSeen.GetValueOrDefault(name);
            service.OverflowSeen[name] = overflow;
            if (overflow > before)
            {
                data[name + ".overflow"] = $"{overflow - before} checks found no slot since the previous health check";
                pressed.Add(name);
            }

            data[name] = limiter.LastCheckpointError ?? (limiter.LastCheckpointAt is { } at ? $"checkpointed {at:O}" : "no checkpoint yet");
            if (limiter.LastCheckpointError is not null)
            {
                failing.Add(name);
            }

            if (limiter.JournalError is { } journal)
            {
                data[name + ".journal"] = journal;
                journals.Add(name);
            }
        }

        // Degraded whenever a promise is not kept: state not checkpointed, or bans not journaled as they happen.
        var problems = new List<string>();
        if (failing.Count > 0)
        {
            problems.Add($"state of {string.Join(", ", failing)} cannot be checkpointed");
        }

        if (journals.Count > 0)
        {
            problems.Add($"bans of {string.Join(", ", journals)} cannot be journaled");
        }

        if (unreachable.Count > 0)
        {
            problems.Add($"Redis does not answer for {string.Join(", ", unreachable)}: checks follow the outage policy, limits are not shared");
        }

        if (pressed.Count > 0)
        {
            problems.Add($"the tables of {string.Join(", ", pressed)} are full: clients without a slot are limited by the overflow entry (raise Floodgate:Capacity)");
        }

        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy($"{service.Limiters.Count} policies", data)
            : HealthCheckResult.Degraded($"{string.Join("; ", problems)}; limits still apply", data: data));
    }
}
