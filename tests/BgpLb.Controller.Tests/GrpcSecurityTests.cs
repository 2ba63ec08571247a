using System.Collections.Concurrent;
using BgpLb.Allocation.Client;
using BgpLb.Allocation.V1;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using static BgpLb.Controller.Tests.ControllerFixture;

namespace BgpLb.Controller.Tests;

/// <summary>
/// The allocation service over real TLS on loopback (Kestrel and GrpcChannel, certificates made here): client
/// certificates and bearer tokens, UNAUTHENTICATED calls that change nothing, per-caller limits and credential rotation.
/// </summary>
public sealed class GrpcSecurityTests : IAsyncLifetime, IAsyncDisposable
{
    private readonly ControllerFixture _fixture = new();
    private readonly string _pkiDirectory = Directory.CreateTempSubdirectory("bgplb-pki-").FullName;
    private readonly TestPki _pki;
    private readonly TestPki.Authority _ca;
    private readonly TestPki.Issued _server;

    public GrpcSecurityTests()
    {
        _pki = new TestPki(_pkiDirectory);
        _ca = _pki.CreateAuthority("bgplb-ca");
        _server = _pki.Issue(_ca, "controller", server: true);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        await _fixture.DisposeAsync();
        if (Directory.Exists(_pkiDirectory))
            Directory.Delete(_pkiDirectory, recursive: true);
    }

    private static CancellationToken Timeout => new CancellationTokenSource(ControllerFixture.Timeout).Token;

    private string TokenFile(string name, string content)
    {
        var path = Path.Combine(_pkiDirectory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private Task<ControllerHost> StartAsync(string? clientCa = null, string? tokenFile = null, int maxPerCaller = 256)
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/28"));
        return _fixture.StartAsync(configure: o => o with
        {
            GrpcSecurity = new GrpcSecurityOptions
            {
                CertificateFile = _server.CertificateFile,
                KeyFile = _server.KeyFile,
                ClientCaFile = clientCa,
                TokenFile = tokenFile,
            },
            MaxExternalPerCaller = maxPerCaller,
        });
    }

    private ControllerConnection Connection(TestPki.Issued? client = null, string? tokenFile = null, string? ca = null) =>
        new(_fixture.GrpcsUri) { CaFile = ca ?? _ca.CertificateFile, CertificateFile = client?.CertificateFile, KeyFile = client?.KeyFile, TokenFile = tokenFile };

    private static async Task<StatusCode> FailureOf(Func<Task> call) => (await Assert.ThrowsAsync<RpcException>(call)).StatusCode;

    /// <summary>The client refused the controller's certificate in the TLS handshake.</summary>
    private static async Task AssertUntrustedAsync(Func<Task> call)
    {
        var failure = await Assert.ThrowsAsync<RpcException>(call);
        var inner = failure.Status.DebugException;
        while (inner is not null and not System.Security.Authentication.AuthenticationException)
            inner = inner.InnerException;
        Assert.True(inner is not null, failure.ToString());
    }

    [Fact]
    public async Task A_client_certificate_of_the_CA_is_accepted_and_owns_what_it_allocates()
    {
        await StartAsync(clientCa: _ca.CertificateFile);
        var client = _fixture.Client(Connection(_pki.Issue(_ca, "speaker-1", server: false)));

        var allocation = await client.AllocateAsync(new AllocateRequest { Name = "tool" }, cancellationToken: Timeout);

        Assert.Equal("main", allocation.Pool);
        var state = File.ReadAllText(_fixture.StatePath) + File.ReadAllText(_fixture.StatePath + ".journal");
        Assert.Matches("\"caller\": ?\"CN=speaker-1\"", state);
    }

    [Fact]
    public async Task Without_a_certificate_or_with_one_of_another_CA_calls_are_unauthenticated_and_change_nothing()
    {
        await StartAsync(clientCa: _ca.CertificateFile);
        var owner = _fixture.Client(Connection(_pki.Issue(_ca, "owner", server: false)));
        await owner.AllocateAsync(new AllocateRequest { Name = "kept" }, cancellationToken: Timeout);
        var revision = _fixture.Host!.Owner.Current.Revision;
        var journal = File.ReadAllBytes(_fixture.StatePath + ".journal");
        var otherCa = _pki.CreateAuthority("other-ca");

        foreach (var stranger in new[] { _fixture.Client(Connection()), _fixture.Client(Connection(_pki.Issue(otherCa, "stranger", server: false))) })
        {
            Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await stranger.AllocateAsync(new AllocateRequest { Name = "new" }, cancellationToken: Timeout)));
            Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await stranger.ReleaseAsync(new ReleaseRequest { Name = "kept" }, cancellationToken: Timeout)));
            Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await stranger.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout)));
            using var watch = stranger.WatchAllocations(new WatchAllocationsRequest(), cancellationToken: Timeout);
            Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await watch.ResponseStream.MoveNext(Timeout)));
        }

        Assert.Equal(revision, _fixture.Host.Owner.Current.Revision);
        Assert.Equal(journal, File.ReadAllBytes(_fixture.StatePath + ".journal"));
        var list = await owner.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);
        Assert.Equal(["kept"], list.Allocations.Select(a => a.Key));
    }

    [Fact]
    public async Task A_bearer_token_is_required_and_compared()
    {
        await StartAsync(tokenFile: TokenFile("tokens", "s3cret-token-1 tool-a\n"));

        var right = _fixture.Client(Connection(tokenFile: TokenFile("right", "s3cret-token-1\n")));
        Assert.Equal("main", (await right.AllocateAsync(new AllocateRequest { Name = "tool" }, cancellationToken: Timeout)).Pool);

        var wrong = _fixture.Client(Connection(tokenFile: TokenFile("wrong", "s3cret-token-2\n")));
        var missing = _fixture.Client(Connection());
        foreach (var stranger in new[] { wrong, missing })
        {
            Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await stranger.ReleaseAsync(new ReleaseRequest { Name = "tool" }, cancellationToken: Timeout)));
            Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await stranger.AllocateAsync(new AllocateRequest { Name = "other" }, cancellationToken: Timeout)));
        }
        Assert.Equal(["tool"], _fixture.Host!.Owner.Current.Result.Entries.Keys);
    }

    [Fact]
    public async Task Each_caller_may_hold_a_limited_number_of_external_allocations_and_only_its_own()
    {
        await StartAsync(tokenFile: TokenFile("tokens", "alice-token alice\nbob-token bob\n"), maxPerCaller: 2);
        var alice = _fixture.Client(Connection(tokenFile: TokenFile("alice", "alice-token")));
        var bob = _fixture.Client(Connection(tokenFile: TokenFile("bob", "bob-token")));

        await alice.AllocateAsync(new AllocateRequest { Name = "a1" }, cancellationToken: Timeout);
        await alice.AllocateAsync(new AllocateRequest { Name = "a2" }, cancellationToken: Timeout);
        var full = await Assert.ThrowsAsync<RpcException>(async () => await alice.AllocateAsync(new AllocateRequest { Name = "a3" }, cancellationToken: Timeout));
        Assert.Equal(StatusCode.ResourceExhausted, full.StatusCode);
        Assert.Equal("caller 'alice' already holds 2 external allocations, the most one caller may hold; release one first", full.Status.Detail);
        // A name already held is not a new one: changing it is allowed at the limit.
        await alice.AllocateAsync(new AllocateRequest { Name = "a2", Addresses = { "203.0.113.9" } }, cancellationToken: Timeout);

        Assert.Equal(StatusCode.PermissionDenied, await FailureOf(async () => await bob.ReleaseAsync(new ReleaseRequest { Name = "a1" }, cancellationToken: Timeout)));
        Assert.Equal(StatusCode.PermissionDenied, await FailureOf(async () => await bob.AllocateAsync(new AllocateRequest { Name = "a1" }, cancellationToken: Timeout)));
        await bob.AllocateAsync(new AllocateRequest { Name = "b1" }, cancellationToken: Timeout);

        Assert.True((await alice.ReleaseAsync(new ReleaseRequest { Name = "a1" }, cancellationToken: Timeout)).Released);
        await alice.AllocateAsync(new AllocateRequest { Name = "a3" }, cancellationToken: Timeout);
        Assert.Equal(["a2", "a3", "b1"], _fixture.Host!.Owner.Current.Result.Entries.Keys.Order());
    }

    [Fact]
    public async Task A_rotated_server_certificate_is_used_by_the_next_connection_and_a_bad_one_is_ignored()
    {
        await StartAsync(tokenFile: TokenFile("tokens", "token"));
        var token = TokenFile("client-token", "token");
        var newCa = _pki.CreateAuthority("new-ca");
        var trustsNewCa = Connection(tokenFile: token, ca: newCa.CertificateFile);
        await AssertUntrustedAsync(async () =>
            await _fixture.Client(trustsNewCa).ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout));

        _pki.Issue(newCa, "controller", server: true); // overwrites the files the controller serves
        await _fixture.Client(trustsNewCa).ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);
        await AssertUntrustedAsync(async () =>
            await _fixture.Client(Connection(tokenFile: token)).ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout));

        File.WriteAllText(_server.CertificateFile, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
        await _fixture.Client(trustsNewCa).ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);
    }

    [Fact]
    public async Task Rotated_token_files_are_read_by_the_next_call_on_both_ends()
    {
        var serverTokens = TokenFile("tokens", "old-token\n");
        await StartAsync(tokenFile: serverTokens);
        var clientToken = TokenFile("client-token", "old-token\n");
        var client = _fixture.Client(Connection(tokenFile: clientToken));
        await client.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);

        File.WriteAllText(serverTokens, "new-token\n");
        Assert.Equal(StatusCode.Unauthenticated, await FailureOf(async () => await client.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout)));
        File.WriteAllText(clientToken, "new-token\n");
        await client.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);

        File.WriteAllText(serverTokens, "# no token left\n"); // invalid: the last good tokens stay in force
        await client.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);
    }

    [Fact]
    public async Task The_watcher_logs_a_refusal_of_its_credentials_as_an_error_and_keeps_retrying()
    {
        await StartAsync(tokenFile: TokenFile("tokens", "right-token\n"));
        var clientToken = TokenFile("client-token", "wrong-token\n");
        var logs = new SignalingLogger<AllocationWatcher>(4153);
        var watcher = new AllocationWatcher(Connection(tokenFile: clientToken), logs,
            options: new AllocationWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(100) });
        using var cancel = new CancellationTokenSource(ControllerFixture.Timeout);
        await using var updates = watcher.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        var first = updates.MoveNextAsync().AsTask();

        var refused = await logs.Signal.WaitAsync(cancel.Token);
        Assert.Equal(LogLevel.Error, refused.Level);
        Assert.Contains("refused our credentials (Unauthenticated: the bearer token is not valid)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--controller-token-file", refused.Message, StringComparison.Ordinal);

        File.WriteAllText(clientToken, "right-token\n");
        Assert.True(await first);
        Assert.True(updates.Current.Snapshot);
    }

    /// <summary>Completes <see cref="Signal"/> with the first entry of one EventId.</summary>
    private sealed class SignalingLogger<T>(int eventId) : ILogger<T>
    {
        private readonly TaskCompletionSource<(LogLevel Level, string Message)> _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<(LogLevel Level, string Message)> Signal => _signal.Task;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (id.Id == eventId)
                _signal.TrySetResult((logLevel, formatter(state, exception)));
        }
    }
}
