using System.Text;
using System.Text.Json;
using BgpLb.Config.Yaml;
using CsCheck;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace BgpLb.Config.Tests.Yaml;

public class PlainScalarTests
{
    private static readonly Gen<string> NumberLike = Gen.Frequency(
        (4, Gen.OneOf("0123456789+-.eE".ToCharArray()).Array[0, 24].Select(c => new string(c))),
        (1, Gen.OneOf("0123456789+-.eE_xXabcdfinltruNLSRUEF~ ".ToCharArray()).Array[0, 8].Select(c => new string(c))),
        (1, Gen.OneOf("9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
            "18446744073709551615", "18446744073709551616", "-18446744073709551616", "1e308", "1e309", "-1e309", "4.9e-324",
            "2e-400", "0.1e1", "00000000000000000000000000042", "1.", ".1", "-.1e-1", "1.e1", "null", "Null", "nULL", "~", "~~",
            "true", "TRUE", "True", "tRUE", "false", "False", "FALSE", "fAlse")));

    [Fact]
    public void Resolves_like_YamlJson()
    {
        NumberLike.Sample(text =>
        {
            var reference = YamlJson.ScalarValue(new Scalar(AnchorName.Empty, TagName.Empty, text, ScalarStyle.Plain, true, false));
            var kind = PlainScalar.Resolve(Encoding.UTF8.GetBytes(text), out var int64, out var uint64, out var number);
            if (kind == PlainScalarKind.Double && !double.IsFinite(number))
            {
                Assert.True(reference!.TryGetValue<double>(out var expected) && expected.Equals(number), text);
                return;
            }
            var output = new MemoryStream();
            using (var writer = new Utf8JsonWriter(output))
            {
                switch (kind)
                {
                    case PlainScalarKind.Null: writer.WriteNullValue(); break;
                    case PlainScalarKind.True: writer.WriteBooleanValue(true); break;
                    case PlainScalarKind.False: writer.WriteBooleanValue(false); break;
                    case PlainScalarKind.Int64: writer.WriteNumberValue(int64); break;
                    case PlainScalarKind.UInt64: writer.WriteNumberValue(uint64); break;
                    case PlainScalarKind.Double: writer.WriteNumberValue(number); break;
                    default: writer.WriteStringValue(text); break;
                }
            }
            Assert.Equal(reference?.ToJsonString() ?? "null", Encoding.UTF8.GetString(output.ToArray()));
        }, iter: 20_000);
    }
}
