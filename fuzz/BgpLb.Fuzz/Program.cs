using BgpLb.Fuzz;
using SharpFuzz;

switch (args)
{
    case ["--write-corpus", var directory]:
        SeedCorpus.Write(directory);
        break;
    case ["--run", .. var files]:
        // Replays inputs (e.g. a crash file) without the fuzzer, for debugging.
        foreach (var file in files)
        {
            FuzzTarget.Run(File.ReadAllBytes(file));
        }

        break;
    default:
        Fuzzer.LibFuzzer.Run(FuzzTarget.Run);
        break;
}
