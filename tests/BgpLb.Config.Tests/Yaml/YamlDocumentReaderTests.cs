using BgpLb.Config.Yaml;

namespace BgpLb.Config.Tests.Yaml;

public class YamlDocumentReaderTests
{
    [Theory]
    [InlineData("a: 1\n")]
    [InlineData("a: 1\nb: [x, y]\nc: {d: e}\n---\n- 1\n- two\n")]
    [InlineData("---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-1, namespace: default}\nspec: {type: LoadBalancer, selector: {app: svc-1}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}\n")]
    public void Reads_like_the_reference_without_fallback(string yaml)
    {
        Assert.Equal(0, YamlOracle.AssertSame(yaml));
    }
}
