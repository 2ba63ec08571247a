using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace BgpLb.Hosting;

/// <summary>
/// Exposes System.Diagnostics.Metrics instruments in the Prometheus text format (version 0.0.4) under their own names,
/// so instruments named after MetalLB's metrics (metallb_bgp_session_up, ...) appear exactly as MetalLB users expect.
/// Library adapters rename instruments (meter prefix, unit and _total suffixes), which would break existing dashboards.
/// Only characters a Prometheus name cannot hold are replaced by '_' (the runtime's dotnet.gc.heap.total_allocated
/// becomes dotnet_gc_heap_total_allocated, its label gc.heap.generation gc_heap_generation).
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, InstrumentSeries> _instruments = new();
    private readonly Lock _collectLock = new();

    public PrometheusExporter(Func<Meter, bool> meterFilter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!meterFilter(instrument.Meter)) return;
            _instruments.TryAdd(instrument, new InstrumentSeries(instrument));
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.MeasurementsCompleted = (instrument, _) => _instruments.TryRemove(instrument, out InstrumentSeries? _);
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Collects observable instruments and renders every series.</summary>
    public string Render()
    {
        lock (_collectLock)
        {
            foreach (var series in _instruments.Values)
                if (series.IsObservable) series.Clear();
            _listener.RecordObservableInstruments();

            var text = new StringBuilder();
            foreach (var series in _instruments.Values.OrderBy(s => s.Instrument.Name, StringComparer.Ordinal))
                series.Render(text);
            return text.ToString();
        }
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_instruments.TryGetValue(instrument, out var series))
            series.Record(value, tags);
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>The name with every character a Prometheus metric or label name cannot hold replaced by '_'.</summary>
    private static string PrometheusName(string name) => string.Create(name.Length, name, static (span, name) =>
    {
        for (var i = 0; i < span.Length; i++)
            span[i] = char.IsAsciiLetterOrDigit(name[i]) || name[i] is '_' or ':' ? name[i] : '_';
    });

    private sealed class InstrumentSeries(Instrument instrument)
    {
        private static readonly Type[] AccumulatingTypes = [typeof(Counter<>), typeof(UpDownCounter<>)];
        private static readonly Type[] CounterTypes = [typeof(Counter<>), typeof(ObservableCounter<>)];

        private readonly ConcurrentDictionary<string, double> _values = new(StringComparer.Ordinal);
        private readonly bool _accumulates = AccumulatingTypes.Contains(instrument.GetType().GetGenericTypeDefinition());
        private readonly string _type = CounterTypes.Contains(instrument.GetType().GetGenericTypeDefinition()) ? "counter" : "gauge";
        // Most instruments carry one tag (peer, pool, ...); its rendered label set is cached per value.
        private readonly ConcurrentDictionary<(string, string), string> _singleTagLabels = new();

        private readonly string _name = PrometheusName(instrument.Name);

        public Instrument Instrument { get; } = instrument;

        public bool IsObservable { get; } = instrument.IsObservable;

        public void Clear() => _values.Clear();

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            if (_accumulates)
                _values.AddOrUpdate(labels, value, (_, old) => old + value);
            else
                _values[labels] = value;
        }

        private string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0) return "";
            if (tags.Length == 1 && tags[0].Value is string single)
                return _singleTagLabels.GetOrAdd((tags[0].Key, single), static k => Format([new(k.Item1, k.Item2)]));
            return Format(tags.ToArray());
        }

        private static string Format(KeyValuePair<string, object?>[] tags)
        {
            Array.Sort(tags, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            var text = new StringBuilder("{");
            for (var i = 0; i < tags.Length; i++)
            {
                if (i > 0) text.Append(',');
                text.Append(PrometheusName(tags[i].Key)).Append("=\"");
                var value = Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "";
                text.Append(value.Replace("\\", "\\\\", StringComparison.Ordinal)
                    .Replace("\"", "\\\"", StringComparison.Ordinal)
                    .Replace("\n", "\\n", StringComparison.Ordinal));
                text.Append('"');
            }
            return text.Append('}').ToString();
        }

        public void Render(StringBuilder text)
        {
            if (_values.IsEmpty) return;
            var name = _name;
            if (!string.IsNullOrEmpty(Instrument.Description))
                text.Append("# HELP ").Append(name).Append(' ').Append(Instrument.Description.Replace("\n", " ", StringComparison.Ordinal)).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(_type).Append('\n');
            foreach (var (labels, value) in _values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                text.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}
