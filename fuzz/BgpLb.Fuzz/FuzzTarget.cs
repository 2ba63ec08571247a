namespace BgpLb.Fuzz;

/// <summary>
/// One fuzz target: code that reads untrusted input, fed one input at a time. <see cref="Run"/> returns normally for
/// every input, catching only the outcome the product expects for bad input (e.g. a NOTIFICATION); any other exception,
/// a hang or a crash is a finding.
/// </summary>
internal abstract class FuzzTarget
{
    /// <summary>Allocations one input may cause (<see cref="Execute"/>): more means unbounded memory, a finding.</summary>
    public const long AllocationBudget = 64 << 20;

    /// <summary>The value of BGPLB_FUZZ_TARGET and the folder name under fuzz/corpus and fuzz/regressions.</summary>
    public abstract string Name { get; }

    /// <summary>Longer inputs are cut here, so that every input's work is bounded by its structure.</summary>
    public abstract int MaxInputLength { get; }

    /// <summary>The seed corpus: valid inputs written by the product encoders or taken from real samples.</summary>
    public abstract IEnumerable<(string Name, byte[] Input)> Seeds();

    protected abstract void Run(ReadOnlySpan<byte> input);

    /// <summary>Runs one input within <see cref="MaxInputLength"/> and <see cref="AllocationBudget"/>.</summary>
    public void Execute(ReadOnlySpan<byte> input)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(input[..Math.Min(input.Length, MaxInputLength)]);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationBudget)
            throw new FuzzFindingException($"one input of {input.Length} B allocated {allocated >> 20} MiB (budget {AllocationBudget >> 20} MiB)");
    }

    public void WriteCorpus(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var (name, input) in Seeds())
            File.WriteAllBytes(Path.Combine(directory, name), input);
    }
}

/// <summary>A property of a target does not hold for an input (as opposed to an exception of the code under test).</summary>
internal sealed class FuzzFindingException(string message) : Exception(message);

internal static class FuzzTargets
{
    /// <summary>Every target; the first is the default when BGPLB_FUZZ_TARGET is not set.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } = [new BgpTarget(), new BfdTarget(), new L2Target(), new YamlTarget(), new GrpcTarget()];

    public static FuzzTarget? Find(string? name) =>
        string.IsNullOrEmpty(name) ? All[0] : All.FirstOrDefault(t => t.Name == name);
}
