using System.Text.RegularExpressions;

namespace BgpLb.Operations.Tests;

/// <summary>The Containerfile (not buildable here: no container runtime) ships every executable of src/ in one image.</summary>
public sealed partial class ContainerfileTests
{
    private static readonly string Root = Yaml.RepositoryRoot();

    [Fact]
    public void Every_executable_project_is_published_into_the_image_and_bgplb_is_also_the_kubectl_plugin()
    {
        var text = File.ReadAllText(Path.Combine(Root, "Containerfile"));
        var executables = Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories)
            .Where(p => File.ReadAllText(p).Contains("<OutputType>Exe</OutputType>", StringComparison.Ordinal))
            .Select(p => Path.GetRelativePath(Root, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);

        Assert.Equal(executables, Publish().Matches(text).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal));
        Assert.Contains("ln -s bgplb /out/kubectl-bgplb", text, StringComparison.Ordinal);
        Assert.Contains("COPY --from=build /out /app", text, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"dotnet publish (\S+\.csproj) -c Release -o /out")]
    private static partial Regex Publish();
}
