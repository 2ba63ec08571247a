namespace BgpLb.Integration.Tests.Harness;

/// <summary>
/// Every lab test belongs to this one collection: they share the host's CPU, /run/frr and the kernel's
/// namespace list, and routers' timing assertions get flaky when several labs run at once.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LabTestGroup
{
    public const string Name = "netns lab";
}
