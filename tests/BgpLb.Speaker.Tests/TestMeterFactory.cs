using System.Diagnostics.Metrics;

namespace BgpLb.Speaker.Tests;

/// <summary>Meters of one test: listeners tell them apart by <see cref="Instrument.Meter"/>'s scope (this factory).</summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, this);
        lock (_meters)
            _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        lock (_meters)
        {
            foreach (var meter in _meters)
                meter.Dispose();
        }
    }
}
