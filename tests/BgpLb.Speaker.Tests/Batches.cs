using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using BgpLb.Config;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// Batches as a source hands them out, built from objects as a cluster holds them (<see cref="Kubernetes.Testing.KubeObjects"/>)
/// and read by the one ingress projector; an object's problems are reported under its own origin.
/// </summary>
internal static class Batches
{
    private static readonly ConfigOptions Options = new();

    /// <summary>A source's first batch: the complete state.</summary>
    public static ResourceBatch Initial(params JsonObject[] objects) => Of(true, objects);

    public static ResourceBatch Changed(params JsonObject[] objects) => Of(false, objects);

    public static ResourceBatch Removed(string kind, string ns, string name)
    {
        var batch = new ResourceBatch();
        batch.Changes.Add(new ResourceChange(new ResourceKey(kind, ns, name), null));
        return batch;
    }

    /// <summary>Applies <paramref name="batch"/> to <paramref name="state"/> and fails the test on a configuration error.</summary>
    public static ClusterDelta ApplyValid(this ClusterState state, ResourceBatch batch)
    {
        var delta = state.Apply(batch);
        Assert.False(state.HasErrors, string.Join(" | ", state.Problems));
        return delta;
    }

    private static ResourceBatch Of(bool initial, JsonObject[] objects)
    {
        var batch = new ResourceBatch { IsInitial = initial };
        foreach (var obj in objects)
        {
            var origin = $"{obj["kind"]} {obj["metadata"]?["namespace"]}/{obj["metadata"]?["name"]}";
            var projection = new Projection();
            ObjectProjector.Project(origin, null, JsonSerializer.SerializeToElement(obj), Options, projection);
            batch.Changes.AddRange(projection.Objects.Select(o => new ResourceChange(o.Key, o.Value)));
            batch.Problems[origin] = [.. projection.Problems];
        }
        return batch;
    }
}

/// <summary>An <see cref="IResourceSource"/> that yields exactly the batches the test publishes, when it publishes them.</summary>
internal sealed class TestResourceSource : IResourceSource
{
    private readonly Channel<ResourceBatch> _batches = Channel.CreateUnbounded<ResourceBatch>();

    public void Publish(ResourceBatch batch) => _batches.Writer.TryWrite(batch);

    public async IAsyncEnumerable<ResourceBatch> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
            yield return await _batches.Reader.ReadAsync(cancellationToken);
    }
}
