using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;

namespace BgpLb.Hosting;

/// <summary>
/// The command-line contract shared by both daemons (DESIGN.md §3): every flag <c>--some-flag</c> can also be given as
/// the environment variable <c>BGPLB_SOME_FLAG</c>; the command line wins.
/// </summary>
public static class CommandLineContract
{
    public static string EnvironmentName(string flag) =>
        "BGPLB_" + flag.TrimStart('-').ToUpperInvariant().Replace('-', '_');

    public static Option<string?> Flag(string flag, string description, Func<string, string?> environment, string? defaultValue = null) =>
        new("--" + flag)
        {
            Description = $"{description} [env {EnvironmentName(flag)}]" + (defaultValue is null ? "" : $" (default {defaultValue})"),
            DefaultValueFactory = _ => environment(EnvironmentName(flag)) ?? defaultValue,
        };

    public static Option<bool> Switch(string flag, string description, Func<string, string?> environment) =>
        new("--" + flag)
        {
            Description = $"{description} [env {EnvironmentName(flag)}]",
            DefaultValueFactory = _ => environment(EnvironmentName(flag)) is { } value
                && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase)),
        };

    /// <summary>Parses ADDR:PORT ("0.0.0.0:179", "[::]:179", "127.0.0.1:7474").</summary>
    public static IPEndPoint ParseEndPoint(string flag, string value)
    {
        if (!IPEndPoint.TryParse(value, out var endPoint) || endPoint.Port == 0 && !value.EndsWith(":0", StringComparison.Ordinal))
            throw new CommandLineException($"--{flag}: '{value}' is not ADDR:PORT (for example 127.0.0.1:7474 or [::]:179)");
        return endPoint;
    }

    public static int ParsePort(string flag, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new CommandLineException($"--{flag}: '{value}' is not a port number (0-65535)");

    public static LogLevel ParseLogLevel(string value) => value.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "information" or "info" => LogLevel.Information,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new CommandLineException($"--log-level: '{value}' is not one of trace, debug, information, warning, error"),
    };
}

/// <summary>A flag value that makes the daemon refuse to start; the message is printed as is.</summary>
public sealed class CommandLineException(string message) : Exception(message);
