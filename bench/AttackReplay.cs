using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Bench;

/// <summary>
/// Replays the attacks of the README's "Under attack" table against Floodgate and, as the baseline, the built-in
/// fixed-window <see cref="PartitionedRateLimiter"/> partitioned by client address (what the rate limiting middleware
/// does). Deterministic on a fake clock, in process: <c>dotnet run -c Release -- attacks</c>.
/// </summary>
internal static class AttackReplay
{
    private const int Limit = 10;

    private static readonly FloodgatePolicy TenAMinute = new() { PermitLimit = Limit, Window = TimeSpan.FromMinutes(1) };

    public static void Run()
    {
        var rows = new List<string[]>
        {
            new[] { "Attack", "Attacker got (Floodgate)", "Attacker got (built-in)", "Legitimate refused", "Escalated on schedule", "Memory (Floodgate / built-in)" },
        };

        foreach ((string name, int subnets) in new[] { ("IPv6 rotation through a /64", 1), ("IPv6 rotation through a /56", 256), ("IPv6 rotation through a /48", 65_536) })
        {
            rows.Add(Rotation(name, Enumerable.Range(0, subnets).Select(s => V6(1, s)).ToArray(), subnets));
        }

        rows.Add(Rotation("IPv4 rotation through a /24", Enumerable.Range(0, 256).Select(h => IpKey.FromIPv4(0xC6336400u + (uint)h)).ToArray(), 256));
        rows.Add(LockOut());
        rows.Add(Escalation(10));
        rows.Add(Escalation(100));
        rows.Add(BlockDurationZero());
        rows.Add(Cycling(8_192));
        rows.Add(Cycling(65_536));

        Print(rows);
        Console.WriteLine();
        Print(Odds());
    }

    private static void Print(List<string[]> rows)
    {
        int[] widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach ((string[] row, int index) in rows.Select((r, i) => (r, i)))
        {
            Console.WriteLine("| " + string.Join(" | ", row.Select((cell, c) => cell.PadRight(widths[c]))) + " |");
            if (index == 0)
            {
                Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
            }
        }
    }

    /// <summary>
    /// The chance that a newcomer with no slot is refused at its first request because of others: the table is full of
    /// blacklisted clients, K clients with no slot use their whole limit, then 10,000 newcomers make one request each.
    /// </summary>
    private static List<string[]> Odds()
    {
        const int Capacity = 4_096;
        var rows = new List<string[]> { new[] { "Clients at their limit with no slot", "Newcomers refused (measured)", "(1 - e^(-K/2C))^4" } };
        foreach (double share in new[] { 0.2, 0.5, 1, 2, 4 })
        {
            var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
            using var limiter = new FloodgateLimiter(TenAMinute, new FloodgateLimiterOptions { Capacity = Capacity, TimeProvider = time });
            for (int i = 0; i < 8 * Capacity; i++)
            {
                try
                {
                    limiter.Blacklist(Spread((1 << 20) | i));
                }
                catch (InvalidOperationException)
                {
                    // No slot left for this one: the table is full, the point.
                }
            }

            int k = (int)(share * Capacity);
            for (int i = 0; i < k; i++)
            {
                Send(limiter, Spread(i), Limit);
            }

            int refused = 0;
            for (int i = 0; i < 10_000; i++)
            {
                refused += limiter.Check(Spread((1 << 19) | i)).IsAllowed ? 0 : 1;
            }

            double expected = Math.Pow(1 - Math.Exp(-share / 2), 4);
            rows.Add([$"{share.ToString(CultureInfo.InvariantCulture)} × capacity", $"{(refused / 100.0).ToString("0.00", CultureInfo.InvariantCulture)} %", $"{(expected * 100).ToString("0.00", CultureInfo.InvariantCulture)} %"]);
        }

        return rows;
    }

    /// <summary>Each address of the network sends Limit + 1 requests in one window; a bystander elsewhere sends Limit.</summary>
    private static string[] Rotation(string name, IpKey[] addresses, int count)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var limiter = new FloodgateLimiter(TenAMinute, new FloodgateLimiterOptions { TimeProvider = time });
        int got = 0;
        foreach (IpKey address in addresses)
        {
            got += Send(limiter, address, Limit + 1);
        }

        int bystander = Send(limiter, V6(2, 7), Limit);
        (int builtInGot, long builtInBytes) = BuiltIn(addresses.Select(ToAddress).ToArray(), Limit + 1, Limit);
        return
        [
            $"{name} ({Count(count)} × {Limit + 1} requests)",
            $"{Count(got)} ({Ratio(got)} the limit)",
            $"{Count(builtInGot)} ({Ratio(builtInGot)})",
            bystander == Limit ? "0 (a bystander got its 10)" : $"bystander got {bystander}",
            "n/a",
            $"{MiB(limiter.MemoryBytes)} / {MiB(builtInBytes)}",
        ];
    }

    /// <summary>6,350 addresses (one per /24) make 4 logins each against 4,096 slots; then 1,000 newcomers make 3 each.</summary>
    private static string[] LockOut()
    {
        var login = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(15) };
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var limiter = new FloodgateLimiter(login, new FloodgateLimiterOptions { Capacity = 4_096, TimeProvider = time });
        IpKey[] attackers = Enumerable.Range(0, 6_350).Select(Spread).ToArray();
        int got = attackers.Sum(a => Send(limiter, a, 4));
        int blocked = limiter.GetBlockedClients().Count;
        int refused = 0;
        for (int i = 0; i < 1_000; i++)
        {
            refused += Send(limiter, IpKey.FromIPv4(0xAC100001u + ((uint)i << 8)), 3) < 3 ? 1 : 0;
        }

        (int builtInGot, long builtInBytes) = BuiltIn(attackers.Select(ToAddress).ToArray(), 4, 3);
        return
        [
            "Lock-out: 6,350 addresses × 4 logins (limit 3), capacity 4,096",
            $"{Count(got)} ({blocked:N0} blocked)",
            $"{Count(builtInGot)} (no blocks)",
            $"{refused} of 1,000 newcomers (3 logins each) refused at least once",
            "n/a",
            $"{MiB(limiter.MemoryBytes)} / {MiB(builtInBytes)}",
        ];
    }

    /// <summary>An offender (BlockLimit 2, blacklisted at its 3rd block) floods one-shot keys between its blocks.</summary>
    private static string[] Escalation(int timesCapacity)
    {
        const int Capacity = 4_096;
        var policy = new FloodgatePolicy { PermitLimit = Limit, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(1), BlockLimit = 2 };
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = Capacity, TimeProvider = time });
        IpKey offender = IpKey.FromIPv4(0xCB000071u);
        int next = 0;
        int got = 0;
        bool onSchedule = true;
        for (int block = 1; block <= 3; block++)
        {
            got += Send(limiter, offender, Limit + 1);
            onSchedule &= limiter.Inspect(offender).BlockCount == block;
            for (int round = 0; round < 2; round++)
            {
                for (int i = 0; i < timesCapacity * Capacity; i++)
                {
                    limiter.Check(Spread(next++));
                }

                time.Advance(TimeSpan.FromSeconds(30 * (round + 1)));
            }
        }

        onSchedule &= limiter.Inspect(offender).IsBlacklisted;
        return
        [
            $"Forgetting: {timesCapacity}× capacity of one-shot keys between an offender's blocks",
            $"{got} in 3 windows ({Ratio(got / 3)} the limit)",
            "n/a (no blocks)",
            "n/a",
            onSchedule ? "yes: blocked, blocked, blacklisted" : "NO",
            $"{MiB(limiter.MemoryBytes)}",
        ];
    }

    /// <summary>BlockDuration 0: an offender over its limit, a 100× capacity flood, the offender again, one window.</summary>
    private static string[] BlockDurationZero()
    {
        const int Capacity = 4_096;
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var limiter = new FloodgateLimiter(TenAMinute, new FloodgateLimiterOptions { Capacity = Capacity, TimeProvider = time });
        IpKey offender = IpKey.FromIPv4(0xCB000071u);
        int got = 0;
        for (int round = 0; round < 5; round++)
        {
            got += Send(limiter, offender, 10);
            for (int i = 0; i < 100 * Capacity / 5; i++)
            {
                limiter.Check(Spread((round * 100_000) + i));
            }
        }

        return
        [
            "Forgetting: BlockDuration 0, 50 requests around a 100× capacity flood",
            $"{got} ({Ratio(got)} the limit)",
            "n/a",
            "n/a",
            "n/a",
            $"{MiB(limiter.MemoryBytes)}",
        ];
    }

    /// <summary>Keys cycled 20 times each through 4,096 slots, one window.</summary>
    private static string[] Cycling(int keys)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var limiter = new FloodgateLimiter(TenAMinute, new FloodgateLimiterOptions { Capacity = 4_096, TimeProvider = time });
        var got = new int[keys];
        for (int pass = 0; pass < 2 * Limit; pass++)
        {
            for (int i = 0; i < keys; i++)
            {
                got[i] += limiter.Check(Spread(i)).IsAllowed ? 1 : 0;
            }
        }

        return
        [
            $"Forgetting: {Count(keys)} keys × {2 * Limit} requests through 4,096 slots",
            $"at most {got.Max()} per key ({Ratio(got.Max())} the limit)",
            "n/a",
            "n/a",
            "n/a",
            $"{MiB(limiter.MemoryBytes)}",
        ];
    }

    /// <summary>The built-in limiter on the same requests: what the attacker got and the managed memory it kept.</summary>
    private static (int Got, long Bytes) BuiltIn(IPAddress[] addresses, int requests, int permits)
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        using var limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        int got = 0;
        foreach (IPAddress address in addresses)
        {
            for (int i = 0; i < requests; i++)
            {
                using RateLimitLease lease = limiter.AttemptAcquire(address);
                got += lease.IsAcquired ? 1 : 0;
            }
        }

        long bytes = GC.GetTotalMemory(forceFullCollection: true) - before;
        GC.KeepAlive(limiter);
        return (got, Math.Max(0, bytes));
    }

    private static int Send(FloodgateLimiter limiter, IpKey key, int times)
    {
        int allowed = 0;
        for (int i = 0; i < times; i++)
        {
            allowed += limiter.Check(key).IsAllowed ? 1 : 0;
        }

        return allowed;
    }

    private static IpKey V6(ushort site, int subnet)
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, 0x2001_0DB8_0000_0000UL | ((ulong)site << 16) | (uint)subnet);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], 0x1234_5678_9ABC_DEF0);
        return IpKey.Create(bytes);
    }

    private static IpKey Spread(int i) => IpKey.FromIPv4(0x0A000001u + ((uint)i << 8));

    private static IPAddress ToAddress(IpKey key) => key.ToIPAddress() ?? IPAddress.None;

    private static string Count(int n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ratio(int got) => (got / (double)Limit).ToString("0.#", CultureInfo.InvariantCulture) + "×";

    private static string MiB(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
}
