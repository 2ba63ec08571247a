using System.Net;
using System.Security.Cryptography.X509Certificates;
using BgpLb.Allocation.Client;
using BgpLb.Config;
using BgpLb.Kubernetes;
using k8s;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace BgpLb.Controller.Webhook;

/// <summary>--webhook-listen, --webhook-cert and --webhook-key (DESIGN.md §3).</summary>
public sealed record WebhookOptions(IPEndPoint Listen, string? CertificateFile = null, string? KeyFile = null)
{
    /// <summary>With certificate files the controller manages no certificate, Secret or caBundle (cert-manager does).</summary>
    public bool ManagesCertificate => CertificateFile is null;
}

/// <summary>
/// The webhook's serving certificate: the files of --webhook-cert/--webhook-key, re-read when they change, or a
/// self-managed one (<see cref="IWebhookCertificateStore"/>) checked every <see cref="CheckInterval"/> and renewed when due.
/// </summary>
public sealed partial class WebhookServingCertificate : BackgroundService
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromMinutes(1);
    /// <summary>After a failure the next check comes after this, doubling up to <see cref="CheckInterval"/>.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly CredentialFile<X509Certificate2>? _files;
    private readonly IWebhookCertificateStore? _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private WebhookCertificateSet? _set;
    private X509Certificate2? _managed;
    /// <summary>The last check failed (logged once until one succeeds).</summary>
    private bool _failed;

    /// <exception cref="CredentialException">The certificate files cannot be read or parsed.</exception>
    public WebhookServingCertificate(WebhookOptions options, IWebhookCertificateStore? store, TimeProvider time, ILogger<WebhookServingCertificate> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _time = time;
        _logger = logger;
        if (options is { CertificateFile: { } certificate, KeyFile: { } key })
            _files = Credentials.CertificateWithKey("--webhook-cert/--webhook-key", certificate, key, logger);
    }

    /// <summary>The certificate served now; null while a self-managed one could not be obtained yet (handshakes fail).</summary>
    public X509Certificate2? Current => _files?.Current ?? Volatile.Read(ref _managed);

    /// <summary>Obtains the self-managed certificate before the listener serves.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_store is not null)
            await RefreshAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_store is null)
            return;
        var delay = _failed ? RetryDelay : CheckInterval;
        while (true)
        {
            await Task.Delay(delay, _time, stoppingToken);
            await RefreshAsync(stoppingToken);
            delay = !_failed ? CheckInterval : delay * 2 < CheckInterval ? delay * 2 : CheckInterval;
        }
    }

    /// <summary>Serves the stored set (renewed when due), then publishes its CA; a failure of either is logged and sets <see cref="_failed"/>.</summary>
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            var set = await _store!.EnsureAsync(cancellationToken);
            if (set != _set)
            {
                var serving = set.ToServing();
                Volatile.Write(ref _managed, serving);
                _set = set;
                Log.Serving(_logger, serving.Subject, serving.NotAfter);
            }
            await _store.PublishAsync(set, cancellationToken);
            if (_failed)
                Log.CertificateRecovered(_logger);
            _failed = false;
        }
        catch (WebhookCertificateException e)
        {
            if (!_failed)
                Log.CertificateFailed(_logger, e.Message);
            _failed = true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4062, Level = LogLevel.Information, Message = "Admission webhook serving certificate {Subject}, valid until {NotAfter:u}")]
        public static partial void Serving(ILogger logger, string subject, DateTime notAfter);

        [LoggerMessage(EventId = 4063, Level = LogLevel.Error, Message = "Admission webhook certificate not renewed or not published: {Reason}; trying again from 5 s up to every minute")]
        public static partial void CertificateFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 4064, Level = LogLevel.Information, Message = "Admission webhook certificate published again")]
        public static partial void CertificateRecovered(ILogger logger);
    }
}

/// <summary>Registration of the admission webhook: its listener, certificate and paths.</summary>
internal static class WebhookHosting
{
    private static readonly object ConnectionMarker = new();

    /// <param name="stateFile">Standalone mode: the CA file is written next to it; null in Kubernetes mode.</param>
    public static IServiceCollection AddAdmissionWebhook(this IServiceCollection services, WebhookOptions options, string? stateFile, PodIdentity? identity)
    {
        services.AddSingleton(options);
        services.AddSingleton<AdmissionWebhook>();
        if (options.ManagesCertificate)
        {
            services.AddSingleton<IWebhookCertificateStore>(sp => identity is null
                ? new WebhookCaFile(Path.Combine(Path.GetDirectoryName(stateFile)!, WebhookCaFile.FileName), options.Listen, sp.GetRequiredService<TimeProvider>())
                : new WebhookCertificateSecret(sp.GetRequiredService<IKubernetes>(), identity.Namespace, sp.GetRequiredService<TimeProvider>()));
        }
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<WebhookServingCertificate>(sp, sp.GetService<IWebhookCertificateStore>()!));
        services.AddHostedService(sp => sp.GetRequiredService<WebhookServingCertificate>());
        return services;
    }

    /// <summary>HTTPS with the webhook's certificate; connections of this listener reach the webhook paths and nothing else.</summary>
    public static void Configure(ListenOptions listen, WebhookServingCertificate certificate)
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificateSelector = (_, _) => certificate.Current });
        listen.Use(next => connection =>
        {
            connection.Items[ConnectionMarker] = ConnectionMarker;
            return next(connection);
        });
    }

    public static void MapAdmissionWebhook(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var webhookConnection = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionMarker) == true;
            if (webhookConnection == AdmissionWebhook.Paths.ContainsKey(context.Request.Path.Value ?? ""))
                return next(context);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        foreach (var (path, kind) in AdmissionWebhook.Paths)
            app.MapPost(path, (HttpContext context, AdmissionWebhook webhook) => webhook.HandleAsync(context, kind));
    }
}
