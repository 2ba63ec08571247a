using System.Text.Json.Nodes;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>The speaker's GET /status against a real BIRD router: what the router has, the speaker says it sent.</summary>
[Collection(LabTestGroup.Name)]
public sealed class SpeakerStatusTests(ITestOutputHelper output)
{
    [NetnsFact]
    public async Task Status_shows_the_session_Established_and_the_route_advertised()
    {
        await using var lab = await Lab.CreateAsync("spk-status", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        var speaker = Assert.Single(await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs),
            [.. WebService(lab), MetalLbManifests.Service("idle", System.Net.IPAddress.Parse("203.0.113.11"))]));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0);

        // The router has the route; the speaker's Adj-RIB-Out says so once the session's status is read after it.
        var status = await Wait.ForAsync("the route advertised in /status", RouteTimeout,
            async () => JsonNode.Parse((await speaker.GetAsync("/status")).EnsureSuccess().StandardOutput)!,
            s => s["sessions"]![0]!["routes"]!.AsArray().Any(r => r!["advertised"]!.GetValue<bool>()),
            s => s.ToJsonString());
        var session = status["sessions"]!.AsArray().Single()!;
        Assert.Equal(("router", "Established"), (session["peer"]!.GetValue<string>(), session["state"]!.GetValue<string>()));
        Assert.Equal(1, session["prefixesAdvertised"]!.GetValue<int>());
        // The only error this session may have seen is a connection collision (the speaker and BIRD dialled each other at
        // once, which a loaded machine makes likely): one connection was closed with Cease 6/7 and the other kept.
        Assert.True(session["lastError"] is null || session["lastError"]!.GetValue<string>().Contains("6/7", StringComparison.Ordinal),
            $"last error: {session["lastError"]}");
        var route = session["routes"]!.AsArray().Single()!;
        Assert.Equal(("203.0.113.10/32", "default/web"), (route["prefix"]!.GetValue<string>(), route["services"]![0]!.GetValue<string>()));

        var idle = status["services"]!.AsArray().Single(s => s!["service"]!.GetValue<string>() == "default/idle")!["addresses"]![0]!;
        Assert.Equal(("NoReadyEndpoint", "NoReadyEndpoint"), (idle["unannounced"]!.GetValue<string>(), idle["bgp"]!["reason"]!.GetValue<string>()));
        lab.Passed();
    }
}
