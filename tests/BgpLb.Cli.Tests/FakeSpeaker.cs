using System.Net;
using BgpLb.Planning;
using BgpLb.StatusApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BgpLb.Cli.Tests;

/// <summary>A speaker's GET /status served by a real Kestrel on loopback, with the speaker's own serializer.</summary>
internal sealed class FakeSpeaker : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeSpeaker(WebApplication app) => _app = app;

    public Uri Url => new(_app.Urls.First());

    /// <summary>The query strings of the requests served, in order.</summary>
    public List<string> Queries { get; } = [];

    public SpeakerStatus Status { get; set; } = null!;

    public static async Task<FakeSpeaker> StartAsync(SpeakerStatus status)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var speaker = new FakeSpeaker(app) { Status = status };
        app.MapGet("/status", (HttpRequest request) =>
        {
            lock (speaker.Queries)
                speaker.Queries.Add(request.QueryString.Value ?? "");
            return Results.Json(speaker.Status, StatusJsonContext.Default.SpeakerStatus);
        });
        await app.StartAsync();
        return speaker;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    /// <summary>When <see cref="Announcing"/>'s route was sent.</summary>
    public static readonly DateTimeOffset SentAt = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);

    /// <summary>node1 announcing default/web's 203.0.113.0 over BGP to "router", on a session in <paramref name="state"/>.</summary>
    public static SpeakerStatus Announcing(string state = "Established", bool advertised = true, string? lastError = null) => new()
    {
        Node = "node1",
        Time = DateTimeOffset.UnixEpoch,
        Sessions =
        [
            new SessionStatus("router", "198.18.0.1", 179, state, state == "Established" ? 83 : null, 64512, "198.18.0.2", lastError,
                advertised && state == "Established" ? 1 : 0, null,
                [advertised && state == "Established" ? new RouteStatus("203.0.113.0/32", ["default/web"], true, SentAt) : new RouteStatus("203.0.113.0/32", ["default/web"], false)]),
        ],
        L2 = new L2Status(false, [], [], []),
        Services =
        [
            new ServiceStatus("default/web",
                [new AddressStatus("203.0.113.0", "main", null, new BgpDecisionStatus(true, AnnounceReason.Announced, "announced", ["router"]), null)]),
        ],
    };
}
