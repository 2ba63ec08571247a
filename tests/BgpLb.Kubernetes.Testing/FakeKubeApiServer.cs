using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes.Testing;

/// <summary>
/// An in-process kube-apiserver (Kestrel on 127.0.0.1:0) speaking enough of the REST protocol for KubernetesClient:
/// list (with labelSelector, and paginated with limit and continue), watch (chunked JSON lines, BOOKMARK, ERROR 410),
/// get, create, update (409 on a stale resourceVersion), merge patch, delete, the status subresource, resourceVersions
/// and compaction (410 Gone for too-old versions and continue tokens), plus test controls: break, close or silence
/// watches, inject 410s, delay every request, act before a list page is served.
/// </summary>
public sealed class FakeKubeApiServer : IAsyncDisposable
{
    private static readonly Dictionary<string, string> Kinds = new()
    {
        ["services"] = "Service", ["nodes"] = "Node", ["secrets"] = "Secret", ["configmaps"] = "ConfigMap", ["namespaces"] = "Namespace",
        ["endpointslices"] = "EndpointSlice", ["events"] = "Event", ["leases"] = "Lease",
        ["ipaddresspools"] = "IPAddressPool", ["bgppeers"] = "BGPPeer", ["bgpadvertisements"] = "BGPAdvertisement",
        ["l2advertisements"] = "L2Advertisement", ["communities"] = "Community", ["bfdprofiles"] = "BFDProfile",
        ["servicebgpstatuses"] = "ServiceBGPStatus", ["servicel2statuses"] = "ServiceL2Status", ["configurationstates"] = "ConfigurationState",
        ["validatingwebhookconfigurations"] = "ValidatingWebhookConfiguration",
        ["pods"] = "Pod",
    };

    private static readonly HashSet<string> WithStatusSubresource = ["services", "ipaddresspools", "servicebgpstatuses", "servicel2statuses", "configurationstates"];

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Resource, string Namespace, string Name), JsonObject> _objects = [];
    private readonly List<(long Version, string Type, string Resource, JsonObject Object)> _log = [];
    private readonly List<WatchConnection> _watches = [];
    private readonly ConcurrentDictionary<string, int> _requests = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version = 100;
    private long _compactedBelow;

    private FakeKubeApiServer(WebApplication app) => _app = app;

    public Uri Uri { get; private set; } = null!;

    /// <summary>Added before every response (a slow API server).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Watches send response headers and then nothing at all.</summary>
    public bool SilentWatches { get; set; }

    /// <summary>A watch from a compacted resourceVersion is refused with HTTP 410 instead of an ERROR event in a 200 stream.</summary>
    public bool GoneAsHttpStatus { get; set; }

    /// <summary>Requests for which this returns true (given e.g. "LIST services") get 500 Internal Server Error.</summary>
    public Func<string, bool>? Fail { get; set; }

    /// <summary>Requests for which this returns true (given e.g. "LIST events" or "PROXY pods") get 403 Forbidden, as RBAC answers.</summary>
    public Func<string, bool>? Forbid { get; set; }

    /// <summary>Called (outside the lock) before a PUT/PATCH/POST/DELETE is processed, with method and path.</summary>
    public Action<string, string>? BeforeWrite { get; set; }

    /// <summary>
    /// Awaited before a list page is served, with the resource and whether the request continues an earlier page (it
    /// may hold the answer back, or change and compact objects so that the continue token expires).
    /// </summary>
    public Func<string, bool, Task>? BeforeList { get; set; }

    /// <summary>
    /// Called after a watch event (ADDED, MODIFIED, DELETED) has been written and flushed to a watch connection, with the
    /// event type, the resource (plural) and the object; on the connection's request thread, so it must not block.
    /// Benchmarks time "the server sent the watch event" with it.
    /// </summary>
    public Action<string, string, JsonObject>? WatchEventSent { get; set; }

    public int OpenWatches
    {
        get
        {
            lock (_lock)
            {
                return _watches.Count;
            }
        }
    }

    public static async Task<FakeKubeApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeKubeApiServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Uri = new Uri(address);
        return server;
    }

    public IKubernetes CreateClient() => new k8s.Kubernetes(new KubernetesClientConfiguration { Host = Uri.ToString() });

    /// <summary>
    /// Writes a kubeconfig file pointing at this server (token auth, plain HTTP), for executables run with --kubeconfig. The
    /// <paramref name="token"/> names the client in <see cref="Requests"/>, so that a test tells two processes' requests apart.
    /// </summary>
    public void WriteKubeconfig(string path, string token = "abc") => File.WriteAllText(path, $$$"""
        apiVersion: v1
        kind: Config
        clusters: [{name: fake, cluster: {server: "{{{Uri}}}"}}]
        users: [{name: me, user: {token: "{{{token}}}"}}]
        contexts: [{name: fake, context: {cluster: fake, user: me}}]
        current-context: fake
        """);

    /// <summary>
    /// Number of requests seen, by "METHOD resource" (e.g. "LIST services", "WATCH bgppeers", "PUT services/status"), or of one
    /// client's requests by "TOKEN: METHOD resource" (the token of its kubeconfig, e.g. "ctl-b: GET leases").
    /// </summary>
    public int Requests(string what) => _requests.GetValueOrDefault(what);

    /// <summary>Creates or replaces an object as another client would (ADDED or MODIFIED event). <paramref name="resource"/> is the plural.</summary>
    public JsonObject Apply(string resource, JsonObject obj)
    {
        lock (_lock)
        {
            var key = (resource, Namespace(obj), Name(obj));
            var stored = (JsonObject)obj.DeepClone();
            if (_objects.TryGetValue(key, out var existing))
            {
                // An update keeps the object's identity.
                stored["metadata"]!["uid"] ??= existing["metadata"]!["uid"]?.DeepClone();
                return StoreUnsynchronized(resource, key, stored, "MODIFIED");
            }
            return StoreUnsynchronized(resource, key, stored, "ADDED");
        }
    }

    public void Remove(string resource, string ns, string name)
    {
        lock (_lock)
        {
            RemoveUnsynchronized((resource, ns, name));
        }
    }

    public JsonObject? Get(string resource, string ns, string name)
    {
        lock (_lock)
        {
            return _objects.TryGetValue((resource, ns, name), out var obj) ? (JsonObject)obj.DeepClone() : null;
        }
    }

    public IReadOnlyList<JsonObject> All(string resource)
    {
        lock (_lock)
        {
            return [.. _objects.Where(p => p.Key.Resource == resource).Select(p => (JsonObject)p.Value.DeepClone())];
        }
    }

    /// <summary>Forgets history: watches, lists and continue tokens from a resourceVersion older than now get 410 Gone.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _compactedBelow = _version;
            _log.Clear();
        }
    }

    /// <summary>The open watches stay open but deliver nothing any more (a hung connection); new watches are not affected.</summary>
    public void SilenceOpenWatches() => ForEachWatch(w => w.Silent = true);

    /// <summary>
    /// Ends the open watches of <paramref name="resource"/> normally, as the API server does at timeoutSeconds, after
    /// sending every event that happened before this call.
    /// </summary>
    public void CloseWatches(string resource)
    {
        ForEachWatch(w =>
        {
            if (w.Resource == resource)
            {
                w.Closing = true;
            }
        });
        lock (_lock)
        {
            PulseUnsynchronized();
        }
    }

    /// <summary>Aborts every open watch connection mid-stream.</summary>
    public void BreakWatches() => ForEachWatch(w =>
    {
        try
        {
            w.Context.Abort();
        }
        catch (ObjectDisposedException)
        {
            // the request finished meanwhile
        }
    });

    /// <summary>Sends an ERROR event carrying a 410 Status on every open watch (as the API server does for an expired version).</summary>
    public void SendGoneToWatches() => ForEachWatch(w => w.Control.Writer.TryWrite(ErrorEvent(HttpStatusCode.Gone, "Expired", "too old resource version")));

    public void SendBookmarks()
    {
        string version;
        lock (_lock)
        {
            version = _version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        ForEachWatch(w => w.Control.Writer.TryWrite(new JsonObject
        {
            ["type"] = "BOOKMARK",
            ["object"] = new JsonObject { ["kind"] = w.Kind, ["apiVersion"] = w.ApiVersion, ["metadata"] = new JsonObject { ["resourceVersion"] = version } },
        }));
    }

    public async ValueTask DisposeAsync()
    {
        BreakWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void ForEachWatch(Action<WatchConnection> action)
    {
        WatchConnection[] watches;
        lock (_lock)
        {
            watches = [.. _watches];
        }
        foreach (var watch in watches)
        {
            action(watch);
        }
    }

    private sealed record WatchConnection(HttpContext Context, string Resource, string Kind, string ApiVersion, Channel<JsonObject> Control)
    {
        public volatile bool Silent;
        public volatile bool Closing;
    }

    private sealed record Route(string Group, string Version, string? Namespace, string Resource, string? Name, string? Subresource)
    {
        public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    }

    private static Route? ParseRoute(PathString path)
    {
        var parts = path.Value!.Trim('/').Split('/');
        int rest;
        string group, version;
        if (parts is ["api", var v, ..])
        {
            (group, version, rest) = ("", v, 2);
        }
        else if (parts is ["apis", var g, var v2, ..])
        {
            (group, version, rest) = (g, v2, 3);
        }
        else
        {
            return null;
        }
        var tail = parts[rest..];
        return tail switch
        {
            ["namespaces", var ns, var resource] => new Route(group, version, ns, resource, null, null),
            ["namespaces", var ns, var resource, var name] => new Route(group, version, ns, resource, name, null),
            ["namespaces", var ns, var resource, var name, var sub] => new Route(group, version, ns, resource, name, sub),
            [var resource] => new Route(group, version, null, resource, null, null),
            [var resource, var name] => new Route(group, version, null, resource, name, null),
            [var resource, var name, var sub] => new Route(group, version, null, resource, name, sub),
            _ => null,
        };
    }

    /// <summary>
    /// Answers GET .../namespaces/NS/pods/NAME[:PORT]/proxy/PATH (the API server's pod proxy): given "NS/NAME[:PORT]" and
    /// "PATH", the body to return, or null for 404. Without it every proxy request is answered 404.
    /// </summary>
    public Func<string, string, string?>? PodProxy { get; set; }

    private async Task HandleAsync(HttpContext context)
    {
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }
        if (Uri.UnescapeDataString(context.Request.Path.Value!).Split('/', 9) is ["", "api", "v1", "namespaces", var proxyNamespace, "pods", var pod, "proxy", ..] proxied)
        {
            Count(context, "PROXY pods");
            if (await ForbiddenAsync(context, "PROXY pods"))
            {
                return;
            }
            var answer = PodProxy?.Invoke($"{proxyNamespace}/{pod}", proxied.Length > 8 ? proxied[8] : "");
            if (answer is null)
            {
                await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", $"no proxy for {pod}");
                return;
            }
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer, context.RequestAborted);
            return;
        }
        var route = ParseRoute(context.Request.Path);
        if (route is null || !Kinds.ContainsKey(route.Resource))
        {
            await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", $"no route {context.Request.Path}");
            return;
        }
        var method = context.Request.Method;
        var query = context.Request.Query;
        if (method == "GET" && route.Name is null)
        {
            var watch = query["watch"] == "true" || query["watch"] == "1";
            var what = (watch ? "WATCH " : "LIST ") + route.Resource;
            Count(context, what);
            if (await ForbiddenAsync(context, what))
            {
                return;
            }
            if (Fail?.Invoke(what) == true)
            {
                await WriteStatusAsync(context, HttpStatusCode.InternalServerError, "InternalError", "injected failure");
                return;
            }
            if (watch)
            {
                await WatchAsync(context, route);
            }
            else
            {
                await ListAsync(context, route);
            }
            return;
        }
        Count(context, $"{method} {route.Resource}{(route.Subresource is null ? "" : "/" + route.Subresource)}");
        if (method != "GET")
        {
            BeforeWrite?.Invoke(method, context.Request.Path.Value!);
        }
        JsonObject? body = null;
        if (method is "POST" or "PUT" or "PATCH")
        {
            body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject;
            if (body is null)
            {
                await WriteStatusAsync(context, HttpStatusCode.BadRequest, "BadRequest", "body is not an object");
                return;
            }
        }
        var (status, reason, message, result) = method switch
        {
            "GET" => Read(route),
            "POST" => Create(route, body!),
            "PUT" => Update(route, body!),
            "PATCH" => Patch(route, body!),
            "DELETE" => Delete(route),
            _ => (HttpStatusCode.MethodNotAllowed, "MethodNotAllowed", method, null),
        };
        if (result is null)
        {
            await WriteStatusAsync(context, status, reason, message);
            return;
        }
        await WriteJsonAsync(context, status, result);
    }

    private void Count(HttpContext context, string what)
    {
        _requests.AddOrUpdate(what, 1, (_, n) => n + 1);
        if (context.Request.Headers.Authorization.ToString() is ['B', 'e', 'a', 'r', 'e', 'r', ' ', .. var token])
            _requests.AddOrUpdate($"{token}: {what}", 1, (_, n) => n + 1);
    }

    /// <summary>
    /// A list, or one page of it with <c>limit</c>. A continue token names the resourceVersion of the first page and the
    /// last object sent; unlike the real server's, later pages show objects as they are now, not as of the first page.
    /// </summary>
    private async Task ListAsync(HttpContext context, Route route)
    {
        var query = context.Request.Query;
        var continueText = query["continue"].ToString();
        Continuation? after = null;
        if (continueText.Length > 0 && (after = Continuation.Parse(continueText)) is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.BadRequest, "BadRequest", "invalid continue token");
            return;
        }
        if (BeforeList is { } beforeList)
        {
            await beforeList(route.Resource, after is not null);
        }
        var limit = int.TryParse(query["limit"], out var parsed) && parsed > 0 ? parsed : int.MaxValue;
        JsonObject? list = null;
        lock (_lock)
        {
            if (!TooOldUnsynchronized(query["resourceVersion"]) && (after is null || after.Version >= _compactedBelow))
            {
                var selector = ParseSelector(query["labelSelector"]);
                var items = new JsonArray();
                string? next = null;
                var ofResource = _objects.Where(p => p.Key.Resource == route.Resource);
                foreach (var (key, obj) in ofResource.OrderBy(p => p.Key.Namespace, StringComparer.Ordinal).ThenBy(p => p.Key.Name, StringComparer.Ordinal))
                {
                    if ((route.Namespace is not null && key.Namespace != route.Namespace) || !Matches(obj, selector)
                        || (after is not null && after.WasSent(key.Namespace, key.Name)))
                    {
                        continue;
                    }
                    if (items.Count == limit)
                    {
                        var last = items[^1]!["metadata"]!;
                        next = new Continuation(after?.Version ?? _version, last["namespace"]?.GetValue<string>() ?? "", last["name"]!.GetValue<string>()).ToString();
                        break;
                    }
                    var item = (JsonObject)obj.DeepClone();
                    item.Remove("apiVersion"); // as the real server does in lists
                    item.Remove("kind");
                    items.Add(item);
                }
                var metadata = new JsonObject { ["resourceVersion"] = VersionText(after?.Version ?? _version) };
                if (next is not null)
                {
                    metadata["continue"] = next;
                }
                list = new JsonObject
                {
                    ["apiVersion"] = route.ApiVersion,
                    ["kind"] = Kinds[route.Resource] + "List",
                    ["metadata"] = metadata,
                    ["items"] = items,
                };
            }
        }
        if (list is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.Gone, "Expired", after is null ? "too old resource version" : "the continue token has expired");
            return;
        }
        await WriteJsonAsync(context, HttpStatusCode.OK, list);
    }

    private sealed record Continuation(long Version, string Namespace, string Name)
    {
        public override string ToString() =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Version.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n{Namespace}\n{Name}"));

        /// <summary>The object came on an earlier page: lists are in (namespace, name) order.</summary>
        public bool WasSent(string ns, string name)
        {
            var byNamespace = string.CompareOrdinal(ns, Namespace);
            return byNamespace < 0 || byNamespace == 0 && string.CompareOrdinal(name, Name) <= 0;
        }

        public static Continuation? Parse(string token)
        {
            try
            {
                var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('\n');
                return parts.Length == 3 && long.TryParse(parts[0], out var version) ? new Continuation(version, parts[1], parts[2]) : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }

    private async Task WatchAsync(HttpContext context, Route route)
    {
        var query = context.Request.Query;
        var sinceText = query["resourceVersion"].ToString();
        long since = long.TryParse(sinceText, out var parsed) ? parsed : 0;
        var bookmarks = query["allowWatchBookmarks"] == "true";
        var timeout = int.TryParse(query["timeoutSeconds"], out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan;
        var connection = new WatchConnection(context, route.Resource, Kinds[route.Resource], route.ApiVersion, Channel.CreateUnbounded<JsonObject>())
        {
            Silent = SilentWatches,
        };
        bool tooOld;
        lock (_lock)
        {
            tooOld = TooOldUnsynchronized(sinceText);
            _watches.Add(connection);
        }
        try
        {
            if (tooOld && GoneAsHttpStatus)
            {
                await WriteStatusAsync(context, HttpStatusCode.Gone, "Expired", $"too old resource version: {sinceText}");
                return;
            }
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            if (tooOld)
            {
                await WriteLineAsync(context, ErrorEvent(HttpStatusCode.Gone, "Expired", $"too old resource version: {sinceText}"));
                return;
            }
            using var end = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            end.CancelAfter(timeout);
            while (!end.IsCancellationRequested)
            {
                List<JsonObject> pending = [];
                Task changed;
                bool closing;
                lock (_lock)
                {
                    changed = _changed.Task;
                    // After taking the task that CloseWatches completes, and before the log: what happened before it is sent.
                    closing = connection.Closing;
                    if (!connection.Silent)
                    {
                        for (var index = FirstAfterUnsynchronized(since); index < _log.Count; index++)
                        {
                            var entry = _log[index];
                            if (entry.Resource == route.Resource && (route.Namespace is null || Namespace(entry.Object) == route.Namespace))
                            {
                                pending.Add(new JsonObject { ["type"] = entry.Type, ["object"] = entry.Object.DeepClone() });
                            }
                            since = entry.Version;
                        }
                    }
                }
                while (connection.Control.Reader.TryRead(out var control))
                {
                    if (control["type"]!.GetValue<string>() != "BOOKMARK" || bookmarks)
                    {
                        pending.Add(control);
                    }
                }
                foreach (var line in pending)
                {
                    await WriteLineAsync(context, line);
                    if (WatchEventSent is { } sent && line["type"]!.GetValue<string>() is "ADDED" or "MODIFIED" or "DELETED" && line["object"] is JsonObject sentObject)
                    {
                        sent(line["type"]!.GetValue<string>(), route.Resource, sentObject);
                    }
                }
                if (closing)
                {
                    return;
                }
                await Task.WhenAny(changed, connection.Control.Reader.WaitToReadAsync(end.Token).AsTask(), Task.Delay(Timeout.Infinite, end.Token));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
        finally
        {
            lock (_lock)
            {
                _watches.Remove(connection);
            }
        }
    }

    private (HttpStatusCode, string, string, JsonObject?) Read(Route route)
    {
        lock (_lock)
        {
            return _objects.TryGetValue(Key(route, route.Name!), out var obj)
                ? (HttpStatusCode.OK, "", "", (JsonObject)obj.DeepClone())
                : NotFound(route);
        }
    }

    private (HttpStatusCode, string, string, JsonObject?) Create(Route route, JsonObject body)
    {
        var metadata = body["metadata"] as JsonObject ?? [];
        body["metadata"] = metadata;
        var generateName = metadata["name"] is null ? metadata["generateName"]?.GetValue<string>() : null;
        if (generateName is not null)
        {
            metadata["name"] = GeneratedName(generateName);
        }
        if (route.Namespace is not null)
        {
            metadata["namespace"] = route.Namespace;
        }
        body["apiVersion"] ??= route.ApiVersion;
        body["kind"] ??= Kinds[route.Resource];
        if (WithStatusSubresource.Contains(route.Resource))
        {
            body.Remove("status");
        }
        lock (_lock)
        {
            var key = Key(route, Name(body));
            // As kube-apiserver does since 1.32 (KEP-4420), a generated name that is taken is generated again (7 more tries).
            for (var retry = 0; generateName is not null && retry < 7 && _objects.ContainsKey(key); retry++)
            {
                metadata["name"] = GeneratedName(generateName);
                key = Key(route, Name(body));
            }
            if (_objects.ContainsKey(key))
            {
                return (HttpStatusCode.Conflict, "AlreadyExists", $"{route.Resource} \"{key.Name}\" already exists", null);
            }
            metadata["uid"] = Guid.NewGuid().ToString();
            metadata["creationTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            return (HttpStatusCode.Created, "", "", (JsonObject)StoreUnsynchronized(route.Resource, key, body, "ADDED").DeepClone());
        }
    }

    /// <summary>The prefix and 5 characters of the API server's alphabet for generated names (no vowels, no 0/1/3).</summary>
    private static string GeneratedName(string prefix)
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return prefix + string.Create(5, 0, (chars, _) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[Random.Shared.Next(alphabet.Length)];
            }
        });
    }

    private (HttpStatusCode, string, string, JsonObject?) Update(Route route, JsonObject body)
    {
        lock (_lock)
        {
            var key = Key(route, route.Name!);
            if (!_objects.TryGetValue(key, out var stored))
            {
                return NotFound(route);
            }
            var sent = body["metadata"]?["resourceVersion"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(sent) && sent != stored["metadata"]!["resourceVersion"]!.GetValue<string>())
            {
                return Conflict(route);
            }
            return (HttpStatusCode.OK, "", "", (JsonObject)StoreUnsynchronized(route.Resource, key, Merge(route, stored, body), "MODIFIED").DeepClone());
        }
    }

    private (HttpStatusCode, string, string, JsonObject?) Patch(Route route, JsonObject patch)
    {
        lock (_lock)
        {
            var key = Key(route, route.Name!);
            if (!_objects.TryGetValue(key, out var stored))
            {
                return NotFound(route);
            }
            var sent = patch["metadata"]?["resourceVersion"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(sent) && sent != stored["metadata"]!["resourceVersion"]!.GetValue<string>())
            {
                return Conflict(route);
            }
            var patched = (JsonObject)stored.DeepClone();
            MergePatch(patched, patch);
            return (HttpStatusCode.OK, "", "", (JsonObject)StoreUnsynchronized(route.Resource, key, Merge(route, stored, patched), "MODIFIED").DeepClone());
        }
    }

    private (HttpStatusCode, string, string, JsonObject?) Delete(Route route)
    {
        lock (_lock)
        {
            var key = Key(route, route.Name!);
            if (!_objects.ContainsKey(key))
            {
                return NotFound(route);
            }
            RemoveUnsynchronized(key);
            return (HttpStatusCode.OK, "", "", new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success" });
        }
    }

    /// <summary>What an update of <paramref name="stored"/> with <paramref name="body"/> leaves: the status subresource changes only status.</summary>
    private static JsonObject Merge(Route route, JsonObject stored, JsonObject body)
    {
        if (route.Subresource == "status")
        {
            var result = (JsonObject)stored.DeepClone();
            result["status"] = body["status"]?.DeepClone();
            return result;
        }
        var updated = (JsonObject)body.DeepClone();
        updated["apiVersion"] = stored["apiVersion"]!.DeepClone();
        updated["kind"] = stored["kind"]!.DeepClone();
        if (WithStatusSubresource.Contains(route.Resource))
        {
            updated["status"] = stored["status"]?.DeepClone();
        }
        var metadata = (JsonObject)updated["metadata"]!;
        metadata["uid"] = stored["metadata"]!["uid"]?.DeepClone();
        metadata["creationTimestamp"] = stored["metadata"]!["creationTimestamp"]?.DeepClone();
        return updated;
    }

    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (name, value) in patch)
        {
            if (value is null)
            {
                target.Remove(name);
            }
            else if (value is JsonObject child && target[name] is JsonObject existing)
            {
                MergePatch(existing, child);
            }
            else
            {
                target[name] = value.DeepClone();
            }
        }
    }

    private JsonObject StoreUnsynchronized(string resource, (string Resource, string Namespace, string Name) key, JsonObject obj, string type)
    {
        _version++;
        var metadata = obj["metadata"] as JsonObject ?? [];
        obj["metadata"] = metadata;
        metadata["resourceVersion"] = VersionText(_version);
        if (key.Namespace.Length > 0)
        {
            metadata["namespace"] = key.Namespace;
        }
        metadata["uid"] ??= Guid.NewGuid().ToString();
        _objects[key] = obj;
        _log.Add((_version, type, resource, (JsonObject)obj.DeepClone()));
        PulseUnsynchronized();
        return obj;
    }

    private void RemoveUnsynchronized((string Resource, string Namespace, string Name) key)
    {
        if (!_objects.Remove(key, out var obj))
        {
            return;
        }
        _version++;
        var deleted = (JsonObject)obj.DeepClone();
        deleted["metadata"]!["resourceVersion"] = VersionText(_version);
        _log.Add((_version, "DELETED", key.Resource, deleted));
        PulseUnsynchronized();
    }

    /// <summary>The index of the first log entry newer than <paramref name="version"/> (the log is in version order).</summary>
    private int FirstAfterUnsynchronized(long version)
    {
        int low = 0, high = _log.Count;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (_log[middle].Version > version)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }
        return low;
    }

    private void PulseUnsynchronized()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }

    private bool TooOldUnsynchronized(string? resourceVersion) =>
        long.TryParse(resourceVersion, out var version) && version > 0 && version < _compactedBelow;

    private static (string Resource, string Namespace, string Name) Key(Route route, string name) => (route.Resource, route.Namespace ?? "", name);

    private static string Namespace(JsonObject obj) => obj["metadata"]?["namespace"]?.GetValue<string>() ?? "";

    private static string Name(JsonObject obj) => obj["metadata"]?["name"]?.GetValue<string>() ?? "";

    private static string VersionText(long version) => version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static Dictionary<string, string> ParseSelector(string? selector) =>
        string.IsNullOrEmpty(selector)
            ? []
            : selector.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");

    private static bool Matches(JsonObject obj, Dictionary<string, string> selector) =>
        selector.All(p => obj["metadata"]?["labels"]?[p.Key]?.GetValue<string>() == p.Value);

    private static (HttpStatusCode, string, string, JsonObject?) NotFound(Route route) =>
        (HttpStatusCode.NotFound, "NotFound", $"{route.Resource} \"{route.Name}\" not found", null);

    private static (HttpStatusCode, string, string, JsonObject?) Conflict(Route route) =>
        (HttpStatusCode.Conflict, "Conflict", $"Operation cannot be fulfilled on {route.Resource} \"{route.Name}\": the object has been modified; please apply your changes to the latest version and try again", null);

    private static JsonObject StatusObject(HttpStatusCode code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = (int)code,
    };

    private static JsonObject ErrorEvent(HttpStatusCode code, string reason, string message) =>
        new() { ["type"] = "ERROR", ["object"] = StatusObject(code, reason, message) };

    private async Task<bool> ForbiddenAsync(HttpContext context, string what)
    {
        if (Forbid?.Invoke(what) != true)
        {
            return false;
        }
        await WriteStatusAsync(context, HttpStatusCode.Forbidden, "Forbidden", $"{what} is forbidden: User \"test\" cannot do that");
        return true;
    }

    private static Task WriteStatusAsync(HttpContext context, HttpStatusCode code, string reason, string message) =>
        WriteJsonAsync(context, code, StatusObject(code, reason, message));

    private static async Task WriteJsonAsync(HttpContext context, HttpStatusCode code, JsonObject body)
    {
        context.Response.StatusCode = (int)code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8);
    }

    private static async Task WriteLineAsync(HttpContext context, JsonObject line)
    {
        await context.Response.WriteAsync(line.ToJsonString() + "\n", Encoding.UTF8, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
