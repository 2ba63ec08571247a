using System.Collections.Concurrent;
using System.Globalization;
using BgpLb.Allocation.V1;
using BgpLb.Controller;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests;

/// <summary>
/// bgplb-controller (standalone, --config and --state) in a lab namespace, under faults: kill -9 in the middle of a
/// burst of allocations, a state file that cannot be written, a configuration directory that cannot be read.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class ControllerFaultTests(ITestOutputHelper output)
{
    /// <summary>An unprivileged user: file permissions apply to it (they do not to root, which runs the tests).</summary>
    private const int Nobody = 65534;
    private const string Pool4 = "203.0.113.10-203.0.113.19";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Rounds of 1,000 Allocate calls from 8 concurrent callers; each round SIGKILLs the controller once a different
    /// number of calls has been acknowledged, then restarts it. After every restart the state file, the gRPC view and
    /// the acknowledged calls agree: every acknowledged name keeps its address, no address is held twice, and a second
    /// restart reproduces the same assignments. Calls in flight at the kill may or may not have been saved; either is
    /// fine as long as the file and the service agree.
    /// </summary>
    [NetnsFact]
    public async Task Kill_9_during_a_burst_of_allocations_loses_and_duplicates_nothing()
    {
        const int rounds = 5;
        const int burst = 1000;
        await using var lab = await Lab.CreateAsync("ctl-kill-burst", 0, output.WriteLine);
        var config = Path.Combine(lab.Directory, "controller-config");
        MetalLbManifests.Write(config, "pools.yaml", [MetalLbManifests.IpAddressPool("v6", "2001:db8:1::/112")]);
        var statePath = Path.Combine(lab.Directory, "controller-state.json");
        var controller = await StartControllerAsync(lab, config, statePath, "controller-0");
        var acknowledged = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        using var channel = Channel(lab);
        var client = new AllocationService.AllocationServiceClient(channel);

        for (var round = 1; round <= rounds; round++)
        {
            var killAfter = (acknowledged.Count) + (round * 150);
            var names = new ConcurrentQueue<string>(Enumerable.Range(0, burst).Select(i => string.Create(CultureInfo.InvariantCulture, $"r{round}-{i}")));
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var callers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (names.TryDequeue(out var name))
                {
                    BgpLb.Allocation.V1.Allocation allocation;
                    try
                    {
                        allocation = await client.AllocateAsync(new AllocateRequest { Name = name, Families = { IpFamily.Ipv6 } });
                    }
                    catch (RpcException) when (killed.Task.IsCompleted)
                    {
                        return; // the controller is gone: this call was never acknowledged
                    }

                    Assert.Equal(Failure.None, allocation.Failure);
                    acknowledged[name] = Assert.Single(allocation.Addresses);
                    if (acknowledged.Count >= killAfter && killed.TrySetResult())
                    {
                        await controller.KillAsync();
                    }
                }
            })).ToList();
            await Task.WhenAll(callers);
            Assert.True(killed.Task.IsCompleted, $"round {round}: the burst ended before {killAfter} acknowledgements");

            var stored = Stored(statePath);
            controller = await StartControllerAsync(lab, config, statePath, $"controller-{round}");
            var served = await ListAsync(client);
            lab.Log($"round {round}: killed after {killAfter} acknowledged, {stored.Count} stored, {served.Count} served");
            Assert.Equal(stored, served);
            var lost = acknowledged.Where(a => served.GetValueOrDefault(a.Key) != a.Value).Select(a => $"{a.Key} ({a.Value} acknowledged)").ToList();
            Assert.Empty(lost);
            var holders = served.GroupBy(s => s.Value).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(s => s.Key))}");
            Assert.Empty(holders);

            await controller.KillAsync();
            controller = await StartControllerAsync(lab, config, statePath, $"controller-{round}-again");
            Assert.Equal(served, await ListAsync(client));
        }

        lab.Passed();
    }

    /// <summary>
    /// The controller (as an unprivileged user) saved web-a, was stopped, and comes back to a state directory made
    /// read-only or a full disk (a 256 KiB tmpfs filled up). A new Service is then allocated but not published: the
    /// log names the file and the reason, /readyz fails, bgplb_controller_state_save_failing is 1, and the state files
    /// are byte-identical. Once the directory is writable again (or the disk has room), the change is saved and published.
    /// </summary>
    [NetnsTheory]
    [InlineData("read-only")]
    [InlineData("full")]
    public async Task A_state_file_that_cannot_be_written_holds_changes_back_and_stays_intact(string fault)
    {
        await using var lab = await Lab.CreateAsync($"ctl-state-{fault}", 0, output.WriteLine);
        var config = Path.Combine(lab.Directory, "controller-config");
        MetalLbManifests.Write(config, "pools.yaml", [MetalLbManifests.IpAddressPool("pool", Pool4)]);
        WriteServices(lab, config, ["web-a"]);
        var stateDirectory = Directory.CreateDirectory(Path.Combine(lab.Directory, "state")).FullName;
        var statePath = Path.Combine(stateDirectory, "state.json");
        var filler = Path.Combine(stateDirectory, "filler");
        var mounted = false;
        try
        {
            if (fault == "full")
            {
                (await Command.RunAsync("mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "bgplb-test-state", stateDirectory)).EnsureSuccess();
                mounted = true;
            }

            (await Command.RunAsync("chown", $"{Nobody}:{Nobody}", stateDirectory)).EnsureSuccess();
            var controller = await StartControllerAsync(lab, config, statePath, "controller", Nobody);
            Assert.Equal("203.0.113.10", Stored(statePath)["default/web-a"]);
            await controller.KillAsync();

            if (fault == "read-only")
            {
                File.SetUnixFileMode(stateDirectory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }
            else
            {
                Fill(filler);
            }

            var before = Snapshot(stateDirectory, filler);
            controller = await StartControllerAsync(lab, config, statePath, "controller-faulty", Nobody);
            WriteServices(lab, config, ["web-a", "web-b"]);

            await Wait.UntilAsync("the controller to log that it cannot save", Timeout,
                () => Task.FromResult(controller.ReadLog().Contains($"Could not save allocations to {statePath}: ", StringComparison.Ordinal)));
            var line = controller.ReadLog().Split('\n').First(l => l.Contains("Could not save allocations", StringComparison.Ordinal));
            lab.Log(line);
            Assert.Contains(fault == "full" ? "No space left on device" : "denied", line, StringComparison.Ordinal);
            Assert.Equal(1, await MetricAsync(controller, "bgplb_controller_state_save_failing"));
            Assert.False((await controller.GetAsync("/readyz")).Succeeded);
            // Allocated in the table, held back from publication (the metric reads what is published).
            Assert.Equal(1, await MetricAsync(controller, "metallb_allocator_addresses_in_use_total{pool=\"pool\"}"));
            Assert.Equal(before, Snapshot(stateDirectory, filler));

            if (fault == "read-only")
            {
                File.SetUnixFileMode(stateDirectory, File.GetUnixFileMode(stateDirectory) | UnixFileMode.UserWrite);
            }
            else
            {
                File.Delete(filler);
            }

            await controller.WaitUntilReadyAsync(Timeout);
            Assert.Equal(2, await MetricAsync(controller, "metallb_allocator_addresses_in_use_total{pool=\"pool\"}"));
            Assert.Equal(0, await MetricAsync(controller, "bgplb_controller_state_save_failing"));
            Assert.Contains($"Saved allocations to {statePath} again", controller.ReadLog(), StringComparison.Ordinal);
            await controller.KillAsync();
            Assert.Equal(new Dictionary<string, string> { ["default/web-a"] = "203.0.113.10", ["default/web-b"] = "203.0.113.11" }, Stored(statePath));
        }
        finally
        {
            if (mounted)
            {
                foreach (var process in lab.Processes)
                {
                    process.Dispose(); // nothing may hold the mount
                }

                (await Command.RunAsync("umount", stateDirectory)).EnsureSuccess();
            }
        }

        lab.Passed();
    }

    /// <summary>
    /// The controller runs as an unprivileged user; its configuration directory is made unreadable to it (mode 000), and
    /// a change is written meanwhile: the controller logs that it cannot list the directory and keeps the last good
    /// configuration (web-a keeps its address, web-b is not seen). Readable again, the change is picked up.
    /// </summary>
    [NetnsFact]
    public async Task An_unreadable_configuration_directory_keeps_the_last_good_configuration()
    {
        await using var lab = await Lab.CreateAsync("ctl-config-unreadable", 0, output.WriteLine);
        var config = Path.Combine(lab.Directory, "controller-config");
        MetalLbManifests.Write(config, "pools.yaml", [MetalLbManifests.IpAddressPool("pool", Pool4)]);
        WriteServices(lab, config, ["web-a"]);
        var stateDirectory = Directory.CreateDirectory(Path.Combine(lab.Directory, "state")).FullName;
        (await Command.RunAsync("chown", $"{Nobody}:{Nobody}", stateDirectory)).EnsureSuccess();
        var statePath = Path.Combine(stateDirectory, "state.json");
        var controller = await StartControllerAsync(lab, config, statePath, "controller", Nobody);
        var mode = File.GetUnixFileMode(config);

        File.SetUnixFileMode(config, UnixFileMode.None);
        WriteServices(lab, config, ["web-a", "web-b"]);
        await Wait.UntilAsync("the controller to log that it cannot list its configuration directory", Timeout,
            () => Task.FromResult(controller.ReadLog().Contains("cannot list the configuration directory", StringComparison.Ordinal)));
        lab.Log(controller.ReadLog().Split('\n').First(l => l.Contains("cannot list the configuration directory", StringComparison.Ordinal)));
        Assert.Equal(1, await MetricAsync(controller, "metallb_allocator_addresses_in_use_total{pool=\"pool\"}"));
        Assert.Equal("203.0.113.10", Stored(statePath)["default/web-a"]);

        File.SetUnixFileMode(config, mode);
        await Wait.UntilAsync("web-b allocated", Timeout,
            async () => await MetricAsync(controller, "metallb_allocator_addresses_in_use_total{pool=\"pool\"}") == 2);
        await controller.KillAsync();
        Assert.Equal(new Dictionary<string, string> { ["default/web-a"] = "203.0.113.10", ["default/web-b"] = "203.0.113.11" }, Stored(statePath));
        lab.Passed();
    }

    private static async Task<ControllerProcess> StartControllerAsync(Lab lab, string config, string statePath, string name, int? uid = null)
    {
        var controller = await ControllerProcess.StartAsync(lab, lab.RouterNamespace, config, statePath, grpcListen: "127.0.0.1:7473", name: name, uid: uid);
        await controller.WaitUntilReadyAsync(Timeout);
        return controller;
    }

    /// <summary>A gRPC channel to the controller's 127.0.0.1:7473 in the lab's namespace.</summary>
    private static GrpcChannel Channel(Lab lab) =>
        GrpcChannel.ForAddress("http://127.0.0.1:7473", new GrpcChannelOptions { HttpHandler = NamespaceSockets.HttpHandler(lab.RouterNamespace) });

    /// <summary>Every allocation the service shows, as key → addresses.</summary>
    private static async Task<Dictionary<string, string>> ListAsync(AllocationService.AllocationServiceClient client) =>
        (await client.ListAllocationsAsync(new ListAllocationsRequest())).Allocations
            .Where(a => a.Failure == Failure.None)
            .ToDictionary(a => a.Key, a => string.Join(",", a.Addresses), StringComparer.Ordinal);

    /// <summary>What the state file holds (snapshot and journal), read as the controller reads it at start.</summary>
    private static Dictionary<string, string> Stored(string statePath) =>
        new StateFile(statePath).Load(out _).Allocations.ToDictionary(a => a.Key, a => string.Join(",", a.Value.Addresses), StringComparer.Ordinal);

    /// <summary>Every file in the state directory but <paramref name="except"/>, as name → content.</summary>
    private static Dictionary<string, string> Snapshot(string directory, string except) =>
        Directory.GetFiles(directory).Where(f => f != except).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(File.ReadAllBytes(f)), StringComparer.Ordinal);

    /// <summary>Writes zeros to <paramref name="path"/> until the file system is full.</summary>
    private static void Fill(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                stream.Write(block);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full
        }
    }

    private static async Task<double> MetricAsync(ControllerProcess controller, string series)
    {
        var metrics = (await controller.GetAsync("/metrics")).EnsureSuccess().StandardOutput;
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>Services without an address, each file replaced in one rename.</summary>
    private static void WriteServices(Lab lab, string config, IReadOnlyList<string> services)
    {
        var staging = MetalLbManifests.Write(Path.Combine(lab.Directory, "staging"), "services.yaml", services.Select(s => MetalLbManifests.ServiceWithoutAddress(s)));
        File.Move(staging, Path.Combine(config, "services.yaml"), overwrite: true);
    }
}
