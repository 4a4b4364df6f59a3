using Floodgate.AspNetCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>A health check for Floodgate: degraded while a policy's state cannot be checkpointed or its bans journaled.</summary>
public static class FloodgateHealthCheckBuilderExtensions
{
    /// <summary>Adds the <c>floodgate</c> health check: healthy, or degraded while checkpoints or the ban journal are failing (checks still work).</summary>
    /// <param name="builder">The health checks.</param>
    /// <param name="name">The check's name.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddFloodgate(this IHealthChecksBuilder builder, string name = "floodgate") =>
        builder.AddCheck<FloodgateHealthCheck>(name);
}

/// <summary>Reports the policies and their persistence.</summary>
internal sealed class FloodgateHealthCheck(FloodgateService service) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var failing = new List<string>();
        var journals = new List<string>();
        foreach ((string name, Floodgate.FloodgateLimiter limiter) in service.Limiters)
        {
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

        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy($"{service.Limiters.Count} policies", data)
            : HealthCheckResult.Degraded($"{string.Join("; ", problems)}; limits still apply", data: data));
    }
}
