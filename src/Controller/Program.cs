using BgpLb.Controller;
using BgpLb.Hosting;

ControllerOptions options;
try
{
    options = ControllerOptions.Parse(args, Environment.GetEnvironmentVariable);
}
catch (CommandLineException e)
{
    await Console.Error.WriteLineAsync($"bgplb-controller: {e.Message}");
    return 2;
}

ControllerHost host;
try
{
    host = await ControllerHost.StartAsync(options, CancellationToken.None);
}
catch (ControllerStartupException)
{
    return 1;
}
await using (host)
{
    await host.App.WaitForShutdownAsync();
}
return 0;
