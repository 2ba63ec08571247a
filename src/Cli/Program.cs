using BgpLb.Cli;

return await BgpLbCommand.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, CancellationToken.None);
