using Floodgate;

// Test helper for the crash tests: recovers the limiter in the data directory given as the argument, then, forever,
// blacklists one more client (0.0.0.1, 0.0.0.2, ...) and checkpoints, printing "checkpointed N" after checkpoint N
// bans is durable. The test kills it with SIGKILL at whatever point it has reached.
string directory = args[0];
var limiter = new FloodgateLimiter(
    new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) },
    new FloodgateLimiterOptions { DataDirectory = directory, CheckpointInterval = TimeSpan.FromDays(1), Capacity = 1 << 16 });

uint next = 1;
while (limiter.Inspect(IpKey.FromIPv4(next)).IsBlacklisted)
{
    next++;
}

Console.WriteLine($"recovered {next - 1}");
while (true)
{
    limiter.Blacklist(IpKey.FromIPv4(next));
    await limiter.CheckpointAsync();
    Console.WriteLine($"checkpointed {next}");
    next++;
}
