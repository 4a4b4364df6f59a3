using System.Net;
using Floodgate.Redis.Internal;
using Floodgate.Tests.Shared.Conformance;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>
/// The comparison with the engine catches a wrong step in the Lua script's shape math: the script as shipped agrees with
/// the engine on a random sequence, and the same script with one step changed does not.
/// </summary>
public sealed class ShapeMutationTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    public static TheoryData<string, string, string> Mutations() => new()
    {
        // The previous window's weight, one ms off.
        { "conformance-sliding", "if e < W then weighted = cy * (W - e) end", "if e < W then weighted = cy * (W - e - 1) end" },
        // The previous count kept across a gap of more than one window.
        { "conformance-sliding", "if k == 1 then cy = c else cy = 0 end", "cy = c" },
        // The sliding next permit rounded the other way.
        { "conformance-sliding", "local at = W - ceildiv((fits - c) * W, cy) + 1", "local at = W - ceildiv((fits - c) * W, cy)" },
        // One emission interval a unit short.
        { "conformance-bucket", "local nextx = excess + COST * W", "local nextx = excess + COST * W - 1" },
        // The fraction of a ms dropped.
        { "conformance-bucket-strict", "ws, c = now + whole, fraction", "ws, c = now + whole, 0" },
        // Retry-After a whole interval late.
        { "conformance-bucket", "local retry = math.max(1, ceildiv(excess + COST * W - capacity, P))", "local retry = math.max(1, ceildiv(excess + COST * W + W - capacity, P))" },
        // The episode never ends.
        { "conformance-bucket-block", "if excess == 0 then bc = 0 end", "" },
    };

    [Theory]
    [MemberData(nameof(Mutations))]
    public async Task AChangedStepOfTheScriptIsCaught(string policyName, string original, string mutated)
    {
        FloodgatePolicy policy = ConformancePolicies.All[policyName];
        string script = new PolicyScript(policy, TimeSpan.FromDays(7)).Text;
        Assert.Contains(original, script, StringComparison.Ordinal);
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);

        Assert.Null(await FirstDifferenceAsync(connection.GetDatabase(), policy, script));
        string? difference = await FirstDifferenceAsync(connection.GetDatabase(), policy, script.Replace(original, mutated, StringComparison.Ordinal));
        Assert.NotNull(difference);
    }

    /// <summary>Runs one random sequence through the engine and the script; the first step where they differ, or null.</summary>
    private static async Task<string?> FirstDifferenceAsync(IDatabase db, FloodgatePolicy policy, string script)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var engine = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = 64, TimeProvider = time });
        var random = new Random(25);
        string prefix = "mutation-" + Guid.NewGuid().ToString("N") + ":";
        IPAddress[] clients = [IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")];
        Decision last = default;
        for (int step = 0; step < 400; step++)
        {
            // Random gaps, and often exactly the Retry-After just given (or a ms short of it): the boundaries of the math.
            long retry = last.RetryAfter == TimeSpan.MaxValue ? 0 : (long)last.RetryAfter.TotalMilliseconds;
            long gap = random.Next(5) switch
            {
                0 => random.Next(0, 12_000),
                1 or 2 when retry > 0 => retry - random.Next(2),
                _ => random.Next(0, 700),
            };
            time.Advance(TimeSpan.FromMilliseconds(gap));
            int client = random.Next(clients.Length);
            Decision expected = last = engine.Check(clients[client]);
            var reply = (long[])(await db.ScriptEvaluateAsync(script, [(RedisKey)(prefix + client)], ["c", time.GetUtcNow().ToUnixTimeMilliseconds()]))!;
            bool forbidden = expected.RetryAfter == TimeSpan.MaxValue;
            if (reply[0] != (long)expected.Reason || reply[1] != expected.Remaining ||
                (!forbidden && (reply[2] != (long)expected.RetryAfter.TotalMilliseconds || reply[3] != (long)expected.ResetAfter.TotalMilliseconds)))
            {
                return $"step {step}: engine {expected} (reset {expected.ResetAfter}), script {{{string.Join(", ", reply)}}}";
            }
        }

        return null;
    }
}
