using BgpLb.Netlab;
namespace BgpLb.Integration.Tests.Harness;


/// <summary>
/// Every lab test belongs to this one collection: they share the host's CPU, /run/frr and the kernel's
/// namespace list, and routers' timing assertions get flaky when several labs run at once.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LabTestGroup : ICollectionFixture<LabLeakCheck>
{
    public const string Name = "netns lab";
}

/// <summary>
/// After the last lab test: fails the run if a namespace or process of any lab is still there (a test that never
/// disposed its lab), after removing them so the machine stays clean.
/// </summary>
public sealed class LabLeakCheck : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        var leakedNamespaces = NetnsLab.CreatedNamespaces.Where(name => File.Exists(Path.Combine("/run/netns", name))).ToList();
        var leakedProcesses = NetnsLab.StartedProcesses.Where(p => !p.HasExited).ToList();
        foreach (var process in leakedProcesses)
        {
            process.Dispose();
        }

        foreach (var name in leakedNamespaces)
        {
            await NetnsLab.DeleteNamespaceAsync(name);
        }

        if (leakedNamespaces.Count > 0 || leakedProcesses.Count > 0)
        {
            throw new InvalidOperationException(
                "labs leaked (a test did not dispose its Lab): namespaces [" + string.Join(", ", leakedNamespaces) +
                "], processes [" + string.Join(", ", leakedProcesses.Select(p => $"{p.Name} pid {p.Pid}")) + "]");
        }
    }
}
