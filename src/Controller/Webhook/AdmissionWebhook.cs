using System.Buffers;
using System.Collections.Frozen;
using System.Text.Encodings.Web;
using System.Text.Json;
using BgpLb.Config;
using BgpLb.Config.Resources;
using Microsoft.AspNetCore.Http.Features;

namespace BgpLb.Controller.Webhook;

/// <summary>
/// MetalLB's validating admission webhooks (AdmissionReview v1): a CREATE or UPDATE of a metallb.io object is judged
/// against the configuration in force with that object replaced, by the same rules and with the same messages as the
/// configuration status (<see cref="ConfigAdmission"/>); a DELETE is refused while another object still needs the
/// object (a BFDProfile a BGPPeer uses, a Community alias an advertisement uses). Denied: <c>allowed: false</c> and
/// status 403; a review that cannot be read: status 400; warnings go into <c>warnings</c>.
/// </summary>
public sealed partial class AdmissionWebhook(ClusterState state, ConfigOptions options, ILogger<AdmissionWebhook> logger)
{
    /// <summary>The path of each kind's webhook (MetalLB's), and the kind it validates.</summary>
    public static readonly FrozenDictionary<string, string> Paths = new Dictionary<string, string>
    {
        ["/validate-metallb-io-v1beta1-ipaddresspool"] = "IPAddressPool",
        ["/validate-metallb-io-v1beta2-bgppeer"] = "BGPPeer",
        ["/validate-metallb-io-v1beta1-bgpadvertisement"] = "BGPAdvertisement",
        ["/validate-metallb-io-v1beta1-l2advertisement"] = "L2Advertisement",
        ["/validate-metallb-io-v1beta1-community"] = "Community",
        ["/validate-metallb-io-v1beta1-bfdprofile"] = "BFDProfile",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>A review carries the object and its old version, each at most what the API server stores, and a little more.</summary>
    public const long MaxBodyBytes = 2L * KubernetesLimits.ObjectBytes + 64 * 1024;

    private const string Origin = "admission";
    private const int Forbidden = 403;
    private const int BadRequest = 400;
    private const int Unavailable = 503;

    /// <summary>Answers one POST to the webhook of <paramref name="kind"/>.</summary>
    public async Task HandleAsync(HttpContext context, string kind)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }
        context.Features.GetRequiredFeature<IHttpMaxRequestBodySizeFeature>().MaxRequestBodySize = MaxBodyBytes;
        Answer answer;
        try
        {
            using var review = await JsonDocument.ParseAsync(context.Request.Body, new JsonDocumentOptions { MaxDepth = 64 }, context.RequestAborted);
            answer = Review(review.RootElement, kind);
        }
        catch (JsonException e)
        {
            answer = new Answer("", false, BadRequest, $"the body is not an AdmissionReview: {e.Message}", []);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }
        context.Response.ContentType = "application/json";
        Write(context.Response.BodyWriter, answer);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    /// <summary>What an AdmissionReview to the webhook of <paramref name="kind"/> is answered.</summary>
    internal Answer Review(JsonElement review, string kind)
    {
        if (review.ValueKind != JsonValueKind.Object || Text(review, "apiVersion") != "admission.k8s.io/v1" || Text(review, "kind") != "AdmissionReview"
            || !review.TryGetProperty("request", out var request) || request.ValueKind != JsonValueKind.Object)
        {
            return new Answer("", false, BadRequest, "expected an AdmissionReview of admission.k8s.io/v1 with a request", []);
        }
        var uid = Text(request, "uid") ?? "";
        var operation = Text(request, "operation");
        var requestKind = request.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.Object ? (Text(k, "group"), Text(k, "kind")) : (null, null);
        if (uid.Length == 0 || operation is null)
            return new Answer(uid, false, BadRequest, "the request has no uid or operation", []);
        if (requestKind != (ObjectProjector.MetalLbGroup, kind))
            return new Answer(uid, false, BadRequest, $"this webhook validates metallb.io {kind}, not {requestKind.Item1}/{requestKind.Item2}", []);
        if (operation is not ("CREATE" or "UPDATE" or "DELETE"))
            return new Answer(uid, true, 200, null, []);
        if (state.Basis is not { } basis)
            return new Answer(uid, false, Unavailable, "the controller has not read the configuration yet; try again shortly", []);

        var deleting = operation == "DELETE";
        MetalLbObject? candidate = null;
        ResourceKey key;
        var obj = default(JsonElement);
        if (deleting)
        {
            // Only the key matters: an object stored long ago is deleted even if it no longer reads as valid.
            if (Text(request, "name") is not { Length: > 0 } name)
                return new Answer(uid, false, BadRequest, "the request has no name", []);
            key = new ResourceKey(kind, Text(request, "namespace") is { Length: > 0 } ns ? ns : options.MetalLbNamespace, name);
        }
        else if (request.TryGetProperty("object", out obj) && obj.ValueKind == JsonValueKind.Object)
        {
            if (Text(obj, "kind") != kind)
                return new Answer(uid, false, BadRequest, $"request.object is not a {kind}", []);
            var projection = new Projection();
            ObjectProjector.Project(Origin, null, obj, options, projection);
            if (projection.Problems.Any(p => p.Severity == ConfigSeverity.Error))
                return Deny(uid, operation, projection.Problems, "");
            if (projection.Objects is not [{ Value: MetalLbObject projected }])
                return new Answer(uid, false, BadRequest, $"request.object is not a metallb.io {kind}", []);
            candidate = projected;
            key = projected.Key;
        }
        else
        {
            return new Answer(uid, false, BadRequest, "the request has no object", []);
        }

        var verdict = ConfigAdmission.Judge(options, basis, key, candidate);
        List<string> warnings = [.. verdict.Warnings.Select(Describe)];
        if (!deleting && kind == "BGPPeer" && Text(obj, "apiVersion") == ObjectProjector.MetalLbGroup + "/v1beta1")
            warnings.Insert(0, "metallb.io/v1beta1 BGPPeer is deprecated; use metallb.io/v1beta2");
        if (!verdict.Allowed)
        {
            var prefix = verdict.Errors.Any(e => e.Resource == key) ? "" : deleting ? $"{key} is still in use: " : "the change would make another object invalid: ";
            return Deny(uid, operation, verdict.Errors, prefix) with { Warnings = warnings };
        }
        Log.Allowed(logger, operation, key, warnings.Count);
        return new Answer(uid, true, 200, null, warnings);
    }

    private Answer Deny(string uid, string operation, IEnumerable<ConfigError> errors, string prefix)
    {
        var message = prefix + string.Join("; ", errors.Where(e => e.Severity == ConfigSeverity.Error).Select(Describe));
        Log.Denied(logger, operation, message);
        return new Answer(uid, false, Forbidden, message, []);
    }

    /// <summary>The object, field and message of a problem, as the configuration status shows them (without the origin).</summary>
    private static string Describe(ConfigError problem) =>
        string.Join(": ", new[] { problem.Resource?.ToString(), problem.Field, problem.Message }.Where(p => !string.IsNullOrEmpty(p)));

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The AdmissionReview answered.</summary>
    internal static void Write(IBufferWriter<byte> output, Answer answer)
    {
        // Relaxed: the messages quote names ('a'), which the default encoder would write as \u0027.
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("apiVersion"u8, "admission.k8s.io/v1"u8);
        json.WriteString("kind"u8, "AdmissionReview"u8);
        json.WriteStartObject("response"u8);
        json.WriteString("uid"u8, answer.Uid);
        json.WriteBoolean("allowed"u8, answer.Allowed);
        if (!answer.Allowed)
        {
            json.WriteStartObject("status"u8);
            json.WriteString("status"u8, "Failure"u8);
            json.WriteNumber("code"u8, answer.Code);
            json.WriteString("reason"u8, answer.Code switch { Forbidden => "Forbidden", Unavailable => "ServiceUnavailable", _ => "BadRequest" });
            json.WriteString("message"u8, answer.Message);
            json.WriteEndObject();
        }
        if (answer.Warnings.Count > 0)
        {
            json.WriteStartArray("warnings"u8);
            foreach (var warning in answer.Warnings)
                json.WriteStringValue(warning);
            json.WriteEndArray();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    internal sealed record Answer(string Uid, bool Allowed, int Code, string? Message, IReadOnlyList<string> Warnings);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4060, Level = LogLevel.Information, Message = "Admission webhook denied {Operation}: {Reason}")]
        public static partial void Denied(ILogger logger, string operation, string reason);

        [LoggerMessage(EventId = 4061, Level = LogLevel.Debug, Message = "Admission webhook allowed {Operation} of {Object} ({Warnings} warnings)")]
        public static partial void Allowed(ILogger logger, string operation, ResourceKey @object, int warnings);
    }
}
