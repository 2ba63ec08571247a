using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BgpLb.Hosting;

public static class OperationalEndpoints
{
    /// <summary>Maps /metrics (Prometheus text), /healthz and /readyz.</summary>
    public static IEndpointRouteBuilder MapOperationalEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/metrics", (PrometheusExporter exporter) =>
            Results.Text(exporter.Render(), PrometheusExporter.ContentType));
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));
        endpoints.MapGet("/readyz", (Readiness readiness) => readiness.IsReady
            ? Results.Text("ok\n")
            : Results.Text($"not ready: {readiness.NotReadyReason}\n", statusCode: StatusCodes.Status503ServiceUnavailable));
        return endpoints;
    }

    /// <summary>
    /// Registers the exporter for every meter whose name starts with "BgpLb" and the runtime's own (managed heap, GC,
    /// thread pool, process memory: what a soak test or an operator watches for leaks), plus the readiness gate.
    /// </summary>
    public static IServiceCollection AddOperationalEndpoints(this IServiceCollection services)
    {
        services.AddSingleton(_ => new PrometheusExporter(IsExported));
        services.AddSingleton<Readiness>();
        return services;
    }

    /// <summary>The meters /metrics shows.</summary>
    public static bool IsExported(Meter meter) => meter.Name.StartsWith("BgpLb", StringComparison.Ordinal) || meter.Name == RuntimeMeterName;

    /// <summary>The .NET runtime's built-in meter (dotnet.gc.*, dotnet.thread_pool.*, dotnet.process.*).</summary>
    public const string RuntimeMeterName = "System.Runtime";
}
