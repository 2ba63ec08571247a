using System.Globalization;
using System.Net;
using BgpLb.Bgp.Bfd;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Netlab;

/// <summary>
/// <c>bgplb-lab bfd-probe --local ADDR --remote ADDR [--tx MS] [--rx MS] [--multiplier N]</c>: one BfdEndpoint session,
/// run inside a lab namespace so that a real router's BFD can be tested against ours before BGP uses it. Prints
/// "ready", then one line per state change ("state OLD NEW DIAGNOSTIC"), until SIGTERM.
/// </summary>
public static class BfdProbe
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        uint Milliseconds(string name, uint fallback) => Value(name) is { } text ? uint.Parse(text, CultureInfo.InvariantCulture) : fallback;
        if (Value("--local") is not { } local || Value("--remote") is not { } remote)
        {
            await Console.Error.WriteLineAsync("usage: bgplb-lab bfd-probe --local ADDR --remote ADDR [--tx MS] [--rx MS] [--multiplier N]");
            return 2;
        }
        var options = new BfdSessionOptions
        {
            DesiredMinTxInterval = Milliseconds("--tx", 300) * 1000,
            RequiredMinRxInterval = Milliseconds("--rx", 300) * 1000,
            DetectMultiplier = (byte)Milliseconds("--multiplier", 3),
        };
        using var endpoint = new BfdEndpoint(new BfdEndpointOptions(), NullLogger<BfdEndpoint>.Instance);
        endpoint.StateChanged += change => Console.WriteLine($"state {change.OldState} {change.NewState} {change.Diagnostic}");
        endpoint.Set(new BfdPeer(IPAddress.Parse(remote), IPAddress.Parse(local), options));
        Console.WriteLine("ready");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }
}
