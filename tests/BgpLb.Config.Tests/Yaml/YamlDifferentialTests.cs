using System.Text;
using CsCheck;

namespace BgpLb.Config.Tests.Yaml;

/// <summary>The reader against the reference (YamlJson over YamlDotNet) on random YAML.</summary>
public class YamlDifferentialTests
{
    private static readonly string[] Insertions =
    [
        " ", "  ", "\n", "\r\n", "\r", "\t", ":", ": ", "-", "- ", "#", " #", "'", "\"", "[", "]", "{", "}", ",", ", ", "&a ", "*a",
        "!", "!!str ", "|", ">", "?", "? ", "%", "%YAML 1.2\n", "@", "`", "\\", ".", "---", "---\n", "\n---\n", "\n--- ", "...\n",
        "\n...\n", "\u0085", "é", "a", "1", "-1", "1e999", "~", "null", "0x", "\uFEFF", "\0",
    ];

    [Fact]
    public void Random_streams_read_as_the_reference_reads_them()
    {
        var documents = 0;
        var fallbacks = 0;
        Gen.Select(YamlGen.Stream, Gen.OneOf(1, 2, 3, 7, 64, int.MaxValue)).Sample((stream, readSize) =>
        {
            var yaml = YamlGen.Write(stream);
            var expected = YamlOracle.Reference(yaml);
            var actual = YamlOracle.Read(Encoding.UTF8.GetBytes(yaml), null, out var fellBack, readSize);
            if (!YamlOracle.Same(expected, actual) && !(expected.Failed && actual.Failed && YamlOracle.HasKeylessValue(yaml)))
            {
                Assert.Fail(YamlOracle.Describe(yaml));
            }
            documents += actual.Documents.Count;
            fallbacks += fellBack;
        }, iter: 4000, threads: 1, print: s => "");
        // The generator mostly writes what the fast path reads; make sure it does.
        Assert.True(fallbacks < documents / 2, $"{fallbacks} of {documents} documents fell back");
    }

    [Fact]
    public void Mutated_streams_read_as_the_reference_reads_them()
    {
        var mutations = Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[0, 2], Gen.Int[0, Insertions.Length - 1]).Array[1, 3];
        Gen.Select(YamlGen.Stream, mutations).Sample((stream, edits) =>
        {
            var yaml = YamlGen.Write(stream);
            foreach (var (position, operation, insertion) in edits)
            {
                var at = yaml.Length == 0 ? 0 : position % (yaml.Length + 1);
                yaml = operation switch
                {
                    0 => yaml.Insert(at, Insertions[insertion]),
                    1 when at < yaml.Length => yaml.Remove(at, Math.Min(1 + (insertion % 3), yaml.Length - at)),
                    _ when at < yaml.Length => yaml.Remove(at, 1).Insert(at, Insertions[insertion]),
                    _ => yaml + Insertions[insertion],
                };
            }
            YamlOracle.AssertSame(yaml);
        }, iter: 6000, threads: 1, print: t => "");
    }
}
