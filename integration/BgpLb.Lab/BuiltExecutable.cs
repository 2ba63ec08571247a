using System.Reflection;

namespace BgpLb.Netlab;

/// <summary>Finds the repository and the daemons built in it, for the lab tests, the demos and the benchmarks.</summary>
public static class BuiltExecutable
{
    /// <summary>The directory holding BgpLb.sln above this assembly.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "BgpLb.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no BgpLb.sln above {AppContext.BaseDirectory}: run from inside the BgpLb repository");
    }

    /// <summary>
    /// $<paramref name="pathVariable"/>, else src/<paramref name="project"/>/bin/CONFIGURATION/net10.0/<paramref name="name"/>,
    /// CONFIGURATION being the one this assembly was built with.
    /// </summary>
    public static string Resolve(string project, string name, string pathVariable)
    {
        if (Environment.GetEnvironmentVariable(pathVariable) is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"{pathVariable}={configured} does not exist", configured);
        }

        var configuration = typeof(BuiltExecutable).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var path = Path.Combine(RepositoryRoot(), "src", project, "bin", configuration, "net10.0", name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} not built (dotnet build -c {configuration}) and {pathVariable} not set", path);
    }
}
