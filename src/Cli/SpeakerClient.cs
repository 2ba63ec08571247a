using System.Net.Http.Json;
using System.Text.Json;
using BgpLb.StatusApi;

namespace BgpLb.Cli;

/// <summary>Reads the speakers' GET /status (docs/status.md). A speaker that does not answer is an unreachable source (exit 2).</summary>
public static class SpeakerClient
{
    /// <param name="service">Limit the document to this Service ("namespace/name"); null: all.</param>
    /// <exception cref="SourceUnreachableException">A speaker did not answer, answered an error, or not with a status document.</exception>
    public static async Task<IReadOnlyList<SpeakerStatus>> ReadAllAsync(IReadOnlyList<Uri> speakers, string? service, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(speakers);
        if (speakers.Count == 0)
            return [];
        using var http = new HttpClient { Timeout = timeout };
        return await Task.WhenAll(speakers.Select(speaker => ReadAsync(http, speaker, service, cancellationToken)));
    }

    /// <summary>The /status URL of a speaker given as its metrics listener (http://HOST:PORT) or as the status URL itself.</summary>
    public static Uri StatusUri(Uri speaker, string? service)
    {
        ArgumentNullException.ThrowIfNull(speaker);
        var builder = new UriBuilder(speaker);
        if (builder.Path is "" or "/")
            builder.Path = "/status";
        builder.Query = service is null ? "" : "service=" + Uri.EscapeDataString(service);
        return builder.Uri;
    }

    private static async Task<SpeakerStatus> ReadAsync(HttpClient http, Uri speaker, string? service, CancellationToken cancellationToken)
    {
        var uri = StatusUri(speaker, service);
        try
        {
            using var response = await http.GetAsync(uri, cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new SourceUnreachableException($"--speaker {speaker}: GET {uri.PathAndQuery} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            return await response.Content.ReadFromJsonAsync(StatusJsonContext.Default.SpeakerStatus, cancellationToken)
                ?? throw new SourceUnreachableException($"--speaker {speaker}: GET {uri.PathAndQuery} answered null");
        }
        catch (HttpRequestException e)
        {
            throw new SourceUnreachableException($"--speaker {speaker}: cannot reach it ({e.Message}); is bgplb-speaker running with --metrics-listen there?", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SourceUnreachableException($"--speaker {speaker}: no answer within {http.Timeout.TotalSeconds:0} s", e);
        }
        catch (JsonException e)
        {
            throw new SourceUnreachableException($"--speaker {speaker}: GET {uri.PathAndQuery} is not a speaker status document ({e.Message})", e);
        }
    }
}
