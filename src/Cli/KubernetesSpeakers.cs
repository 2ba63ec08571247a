using System.Text.Json;
using BgpLb.StatusApi;
using k8s;
using k8s.Autorest;

namespace BgpLb.Cli;

/// <summary>
/// Kubernetes mode without --speaker: the speakers' /status through the API server's pod proxy (RBAC: list pods and
/// get pods/proxy in the speakers' namespace), from every Running pod labelled component=speaker (config/speaker.yaml).
/// </summary>
public static class KubernetesSpeakers
{
    public const string Namespace = "metallb-system";
    public const string LabelSelector = "component=speaker";
    /// <summary>The speakers' --metrics-listen port in config/speaker.yaml (container port "monitoring").</summary>
    public const int StatusPort = 7474;

    /// <exception cref="SourceUnreachableException">The pods cannot be listed or a speaker's status cannot be read (the message says what to grant).</exception>
    public static async Task<IReadOnlyList<SpeakerStatus>> ReadAllAsync(IKubernetes client, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        cancellationToken = deadline.Token;
        try
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: LabelSelector, cancellationToken: cancellationToken);
            var running = pods.Items.Where(p => p.Status?.Phase == "Running").ToList();
            var statuses = new List<SpeakerStatus>(running.Count);
            foreach (var pod in running)
            {
                await using var body = await client.CoreV1.ConnectGetNamespacedPodProxyWithPathAsync($"{pod.Metadata.Name}:{StatusPort}", Namespace, "status",
                    cancellationToken: cancellationToken);
                statuses.Add(await JsonSerializer.DeserializeAsync(body, StatusJsonContext.Default.SpeakerStatus, cancellationToken)
                    ?? throw new SourceUnreachableException($"speaker pod {pod.Metadata.Name}: /status answered null"));
            }
            return statuses;
        }
        catch (HttpOperationException e)
        {
            throw new SourceUnreachableException(
                $"cannot read the speakers' /status through the API server ({e.Response.StatusCode} on {e.Request.RequestUri.AbsolutePath}): "
                + $"grant list on pods and get on pods/proxy in {Namespace}, or give --speaker URL", e);
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested)
        {
            throw new SourceUnreachableException($"the speakers' /status through the API server: no answer within {timeout.TotalSeconds:0} s", e);
        }
        catch (JsonException e)
        {
            throw new SourceUnreachableException($"a speaker pod's /status is not a status document ({e.Message})", e);
        }
    }
}
