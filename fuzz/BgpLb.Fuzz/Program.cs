using BgpLb.Fuzz;
using SharpFuzz;

// BGPLB_FUZZ_TARGET picks the target (FuzzTargets.All; default bgp). Without arguments: one afl-fuzz run.
var name = Environment.GetEnvironmentVariable("BGPLB_FUZZ_TARGET");
if (FuzzTargets.Find(name) is not { } target)
{
    Console.Error.WriteLine($"unknown BGPLB_FUZZ_TARGET '{name}'; one of: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}

switch (args)
{
    case ["--write-corpus", var directory]:
        target.WriteCorpus(directory);
        break;
    case ["--run", .. var files]:
        // Replays inputs (e.g. a crash file) without the fuzzer, for debugging: a finding ends with its stack trace.
        foreach (var file in files)
            target.Execute(File.ReadAllBytes(file));
        break;
    case []:
        // Out of process: a stack overflow or an abort kills only the child, and afl-fuzz records it as a crash.
        Fuzzer.OutOfProcess.Run(stream =>
        {
            var input = new byte[target.MaxInputLength];
            var length = stream.ReadAtLeast(input, input.Length, throwOnEndOfStream: false);
            target.Execute(input.AsSpan(0, length));
        });
        break;
    default:
        Console.Error.WriteLine("usage: BgpLb.Fuzz [--write-corpus DIR | --run FILE...]  (no arguments: under afl-fuzz)");
        return 2;
}

return 0;
