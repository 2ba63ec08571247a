using System.Diagnostics.Metrics;
using BgpLb.Hosting;

namespace BgpLb.Speaker.Tests;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void Renders_instruments_under_their_own_names_with_types_and_labels()
    {
        var meterName = "BgpLb.Test." + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusExporter(m => m.Name == meterName);
        using var meter = new Meter(meterName);
        var updates = meter.CreateCounter<long>("metallb_bgp_updates_total", description: "UPDATE messages sent");
        var up = 1;
        meter.CreateObservableGauge("metallb_bgp_session_up", () => new Measurement<int>(up, new KeyValuePair<string, object?>("peer", "198.18.0.1:179")));

        updates.Add(2, new KeyValuePair<string, object?>("peer", "198.18.0.1:179"));
        updates.Add(3, new KeyValuePair<string, object?>("peer", "198.18.0.1:179"));
        updates.Add(1, new KeyValuePair<string, object?>("peer", "a\"b"));

        var text = exporter.Render();
        Assert.Contains("# TYPE metallb_bgp_updates_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("metallb_bgp_updates_total{peer=\"198.18.0.1:179\"} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("metallb_bgp_updates_total{peer=\"a\\\"b\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE metallb_bgp_session_up gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("metallb_bgp_session_up{peer=\"198.18.0.1:179\"} 1\n", text, StringComparison.Ordinal);

        up = 0;
        Assert.Contains("metallb_bgp_session_up{peer=\"198.18.0.1:179\"} 0\n", exporter.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void Multi_tag_series_are_rendered_with_sorted_labels_and_other_meters_are_ignored()
    {
        var meterName = "BgpLb.Test." + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusExporter(m => m.Name == meterName);
        using var meter = new Meter(meterName);
        using var foreign = new Meter("Other." + Guid.NewGuid().ToString("N"));
        meter.CreateUpDownCounter<long>("metallb_speaker_announced").Add(1,
            new KeyValuePair<string, object?>("service", "default/web"), new KeyValuePair<string, object?>("ip", "203.0.113.1"));
        foreign.CreateCounter<long>("foreign_total").Add(1);

        var text = exporter.Render();
        Assert.Contains("metallb_speaker_announced{ip=\"203.0.113.1\",service=\"default/web\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("foreign_total", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Characters_a_prometheus_name_cannot_hold_become_underscores()
    {
        var meterName = "BgpLb.Test." + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusExporter(m => m.Name == meterName);
        using var meter = new Meter(meterName);
        meter.CreateCounter<long>("dotnet.gc.heap.total_allocated").Add(7, new KeyValuePair<string, object?>("gc.heap.generation", "gen0"));

        Assert.Contains("dotnet_gc_heap_total_allocated{gc_heap_generation=\"gen0\"} 7\n", exporter.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_runtime_meter_is_exported_with_the_managed_heap_and_thread_count()
    {
        using var exporter = new PrometheusExporter(OperationalEndpoints.IsExported);
        GC.Collect(); // the heap size after the last collection is reported once there was one

        var text = exporter.Render();
        Assert.Matches(@"\ndotnet_gc_last_collection_heap_size\{gc_heap_generation=""gen0""\} \d+\n", text);
        Assert.Matches(@"\ndotnet_thread_pool_thread_count \d+\n", text);
    }
}
