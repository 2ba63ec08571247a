using BgpLb.Fuzz;
using SharpFuzz;

// BGPLB_FUZZ_TARGET=bfd: the BFD Control packet reader and session; otherwise the BGP stream decoder.
var bfd = Environment.GetEnvironmentVariable("BGPLB_FUZZ_TARGET") == "bfd";
ReadOnlySpanAction target = bfd ? BfdFuzzTarget.Run : FuzzTarget.Run;
switch (args)
{
    case ["--write-corpus", var directory]:
        if (bfd)
            BfdFuzzTarget.WriteCorpus(directory);
        else
            SeedCorpus.Write(directory);
        break;
    case ["--run", .. var files]:
        // Replays inputs (e.g. a crash file) without the fuzzer, for debugging.
        foreach (var file in files)
        {
            target(File.ReadAllBytes(file));
        }

        break;
    default:
        Fuzzer.LibFuzzer.Run(target);
        break;
}
