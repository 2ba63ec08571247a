using System.Text.Json;
using BgpLb.StatusApi;
using k8s;
using k8s.Autorest;

namespace BgpLb.Cli;

/// <summary>
/// Kubernetes mode without --speaker: the speakers' /status through the API server's pod proxy (RBAC: list pods and
/// get pods/proxy in the speakers' namespace, config/rbac/cli.yaml), from every Running pod labelled component=speaker
/// (config/speaker.yaml), on its container port named "monitoring".
/// </summary>
public static class KubernetesSpeakers
{
    public const string LabelSelector = "component=speaker";
    public const string StatusPortName = "monitoring";
    /// <summary>The speaker's default --metrics-listen port, for a pod that names no "monitoring" port.</summary>
    public const int DefaultStatusPort = 7474;

    /// <returns>
    /// The statuses, or none and why when there is no speaker pod or RBAC does not allow reading them (the explanation goes
    /// on without sessions).
    /// </returns>
    /// <exception cref="SourceUnreachableException">A speaker's status cannot be read for another reason (the pod does not answer).</exception>
    public static async Task<(IReadOnlyList<SpeakerStatus> Statuses, string? Unread)> ReadAllAsync(
        IKubernetes client, string @namespace, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        cancellationToken = deadline.Token;
        try
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync(@namespace, labelSelector: LabelSelector, cancellationToken: cancellationToken);
            var running = pods.Items.Where(p => p.Status?.Phase == "Running").ToList();
            if (running.Count == 0)
                return ([], $"no Running pod labelled {LabelSelector} in {@namespace} (give --speaker URL, or --system-namespace)");
            var statuses = new List<SpeakerStatus>(running.Count);
            foreach (var pod in running)
            {
                await using var body = await client.CoreV1.ConnectGetNamespacedPodProxyWithPathAsync($"{pod.Metadata.Name}:{StatusPort(pod)}", @namespace, "status",
                    cancellationToken: cancellationToken);
                statuses.Add(await JsonSerializer.DeserializeAsync(body, StatusJsonContext.Default.SpeakerStatus, cancellationToken)
                    ?? throw new SourceUnreachableException($"speaker pod {pod.Metadata.Name}: /status answered null"));
            }
            return (statuses, null);
        }
        catch (HttpOperationException e) when (KubernetesRecords.IsForbidden(e))
        {
            return ([], KubernetesRecords.Unreadable(e, $"list on pods and get on pods/proxy in {@namespace}, config/rbac/cli.yaml, or give --speaker URL"));
        }
        catch (HttpOperationException e)
        {
            throw new SourceUnreachableException(
                $"cannot read the speakers' /status through the API server ({e.Response.StatusCode} on {e.Request.RequestUri.AbsolutePath}): "
                + $"grant list on pods and get on pods/proxy in {@namespace} (config/rbac/cli.yaml), or give --speaker URL", e);
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

    private static int StatusPort(k8s.Models.V1Pod pod) =>
        pod.Spec?.Containers?.SelectMany(c => c.Ports ?? []).FirstOrDefault(p => p.Name == StatusPortName)?.ContainerPort ?? DefaultStatusPort;
}
