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
    return ExitCodes.Usage;
}

ControllerHost host;
try
{
    host = await ControllerHost.StartAsync(options, CancellationToken.None);
}
catch (ControllerStartupException)
{
    return ExitCodes.StartupFailed; // logged
}
catch (ListenerException listener)
{
    await Console.Error.WriteLineAsync($"bgplb-controller: {listener.Message}");
    return ExitCodes.CannotListen;
}
await using (host)
{
    await host.App.WaitForShutdownAsync();
}
return 0;
