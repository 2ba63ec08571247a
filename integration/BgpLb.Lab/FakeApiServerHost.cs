using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using BgpLb.Kubernetes.Testing;

namespace BgpLb.Netlab;

/// <summary>
/// <c>bgplb-lab fake-apiserver --kubeconfig FILE</c>: the tests' <see cref="FakeKubeApiServer"/> as a process of its
/// own, so that it can run inside a lab namespace (<c>ip netns exec</c>) and listen on that namespace's loopback, where
/// a speaker in the same namespace reaches it. It writes a kubeconfig pointing at itself, prints
/// <c>ready URI</c>, then takes commands on standard input, one per line, and answers each on standard output:
/// <list type="bullet">
/// <item><c>apply RESOURCE JSON</c> (create or replace, as another client would) → <c>ok RESOURCEVERSION</c></item>
/// <item><c>remove RESOURCE NAMESPACE NAME</c> → <c>ok 0</c></item>
/// <item><c>count RESOURCE</c> → <c>ok NUMBER</c> of objects held</item>
/// <item><c>trace RESOURCE</c>: from now on report every watch event of RESOURCE sent to a watcher → <c>ok 0</c></item>
/// </list>
/// A bad command gets <c>error MESSAGE</c>. Traced events come as
/// <c>sent TYPE RESOURCE NAMESPACE/NAME RESOURCEVERSION TIMESTAMP</c>, TIMESTAMP being <see cref="Stopwatch.GetTimestamp"/>
/// (CLOCK_MONOTONIC, comparable with the other processes of the machine) after the event was written and flushed.
/// It exits when standard input closes.
/// </summary>
internal static class FakeApiServerHost
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        if (args is not ["--kubeconfig", var kubeconfig])
        {
            await Console.Error.WriteLineAsync("usage: bgplb-lab fake-apiserver --kubeconfig FILE");
            return 2;
        }

        var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        var outputLock = new Lock();
        void Write(string line)
        {
            lock (outputLock)
            {
                output.WriteLine(line);
            }
        }

        await using var server = await FakeKubeApiServer.StartAsync();
        var traced = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        server.WatchEventSent = (type, resource, obj) =>
        {
            var timestamp = Stopwatch.GetTimestamp();
            if (traced.ContainsKey(resource))
            {
                var metadata = obj["metadata"];
                Write(string.Create(CultureInfo.InvariantCulture,
                    $"sent {type} {resource} {metadata?["namespace"]?.GetValue<string>() ?? ""}/{metadata?["name"]?.GetValue<string>()} {metadata?["resourceVersion"]?.GetValue<string>()} {timestamp}"));
            }
        };
        server.WriteKubeconfig(kubeconfig);
        Write($"ready {server.Uri}");

        using var input = new StreamReader(Console.OpenStandardInput());
        while (await input.ReadLineAsync() is { } line)
        {
            var parts = line.Split(' ', 3);
            try
            {
                switch (parts)
                {
                    case ["apply", var resource, var json]:
                        var stored = server.Apply(resource, JsonNode.Parse(json)!.AsObject());
                        Write($"ok {stored["metadata"]!["resourceVersion"]!.GetValue<string>()}");
                        break;
                    case ["remove", var resource, var rest] when rest.Split(' ') is [var ns, var name]:
                        server.Remove(resource, ns, name);
                        Write("ok 0");
                        break;
                    case ["count", var resource]:
                        Write($"ok {server.All(resource).Count}");
                        break;
                    case ["trace", var resource]:
                        traced[resource] = true;
                        Write("ok 0");
                        break;
                    default:
                        Write($"error unknown command: {line}");
                        break;
                }
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
            {
                Write($"error {e.Message.ReplaceLineEndings(" ")}");
            }
        }

        return 0;
    }
}
