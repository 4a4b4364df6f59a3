using Microsoft.Extensions.Options;

namespace Floodgate.Redis.Internal;

/// <summary>Validates <see cref="FloodgateRedisOptions"/> at startup, reporting every bad setting at once.</summary>
internal sealed class FloodgateRedisOptionsValidator : IValidateOptions<FloodgateRedisOptions>
{
    public ValidateOptionsResult Validate(string? name, FloodgateRedisOptions options)
    {
        IReadOnlyList<string> errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => "Floodgate:Redis: " + e));
    }
}
