using System.Threading.Channels;

namespace BgpLb.Config;

/// <summary>
/// Wakes one reconcile loop: any number of inputs <see cref="Set"/> it, the loop waits and then looks at every input.
/// Holds at most one pending wake, so a burst of changes is one wake.
/// </summary>
public sealed class WakeSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Set() => _channel.Writer.TryWrite(true);

    /// <summary>Returns once set (at once when it already is) and clears it.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken) => await _channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
}
