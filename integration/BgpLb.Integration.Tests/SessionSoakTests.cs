using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests;

/// <summary>
/// bench/soak.sh at a reduced size: the speaker goes through session flaps against a real router (restart, link
/// down/up, SIGSTOP past the hold time, in turn), the session and the route come back after each, and its resources
/// stay flat.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class SessionSoakTests(ITestOutputHelper output)
{
    // 30 flaps take 2-3 minutes per router: a flap waits for a 3 s hold timer twice out of three times.
    private const int Flaps = 30;
    private const int SampleEvery = 6;

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task Speaker_resources_stay_flat_through_session_flaps(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"soak-flap-{SpeakerScenarioTests.Short(routerKind)}", 1, output.WriteLine);
        var soak = await SessionSoak.StartAsync(lab, routerKind);

        var samples = await soak.RunAsync(Flaps, SampleEvery, s => lab.Log($"{s.Flaps} flaps: {s.OpenFiles} fds ({s.Files}), {s.Collections} GCs"), CancellationToken.None);

        // The baseline is taken after the first 6 flaps (two of each kind): by then the JIT, the thread pool and the GC's
        // budgets have settled. The next 24 flaps must leave no descriptor and no thread behind: one leaked socket,
        // pipe, timer or thread per flap would add 24, the bounds allow 4 of noise (a thread-pool thread parked or
        // retired, a connection of the scrape in flight). Assemblies are left out: the runtime keeps each one it loads
        // open, and an error path taken for the first time loads a few (seen: +9 in the first 30 flaps). Memory moves with the GC's timing, so its bounds only catch a leak of
        // roughly 1 MiB of RSS or 330 KiB of managed heap per flap (e.g. a session's buffers, its RIB or its pipes
        // never released); bench/soak.sh's 1,000 flaps hold smaller leaks to the same bounds.
        var (baseline, last) = (samples[1], samples[^1]);
        lab.Log(SessionSoak.Format(routerKind.ToString(), samples, baseline));
        Assert.InRange(last.OpenFiles, baseline.OpenFiles - 4, baseline.OpenFiles + 4);
        Assert.InRange(last.Threads, baseline.Threads - 4, baseline.Threads + 4);
        Assert.InRange(last.RssMiB - baseline.RssMiB, double.MinValue, 24);
        Assert.True(last.Collections > baseline.Collections, "no garbage collection since the baseline: the heap after the last one says nothing");
        Assert.InRange(last.HeapMiB - baseline.HeapMiB, double.MinValue, 8);
        lab.Passed();
    }
}
