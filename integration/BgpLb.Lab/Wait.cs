namespace BgpLb.Netlab;

/// <summary>
/// Polls a condition until it holds or a deadline passes. Tests assert through these, never through fixed sleeps.
/// </summary>
public static class Wait
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Polls <paramref name="observe"/> until <paramref name="accept"/> holds and returns the accepted value.
    /// On timeout throws with the description and the last value seen (or the last exception thrown). A shorter
    /// <paramref name="pollInterval"/> than the default 100 ms suits waits that measure a time (e.g. a failover).
    /// </summary>
    public static async Task<T> ForAsync<T>(
        string description, TimeSpan timeout, Func<Task<T>> observe, Func<T, bool> accept, Func<T, string>? show = null, TimeSpan? pollInterval = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var lastSeen = "nothing observed yet";
        while (true)
        {
            try
            {
                var value = await observe();
                if (accept(value))
                {
                    return value;
                }

                lastSeen = show is null ? value?.ToString() ?? "null" : show(value);
            }
            catch (Exception exception) when (exception is InvalidOperationException or IOException or FormatException or TimeoutException or System.Text.Json.JsonException)
            {
                lastSeen = exception.GetType().Name + ": " + exception.Message;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for {description}; last seen: {lastSeen}");
            }

            await Task.Delay(pollInterval ?? PollInterval);
        }
    }

    public static Task UntilAsync(string description, TimeSpan timeout, Func<Task<bool>> condition) =>
        ForAsync(description, timeout, condition, held => held);

    /// <summary>
    /// Asserts a condition keeps holding for the whole period (e.g. a session with a wrong password never comes up),
    /// polling it; throws as soon as it is violated. Only for real-time properties of the routers and kernels in the lab
    /// ("the session survives a hold time", "a retry within its interval does not establish"), which no barrier can show.
    /// It cannot flake: it fails only on an observed violation, never because the machine is slow; load can only make a
    /// violation less likely to show within the period, so pair it with a positive signal where one exists (e.g. the
    /// router's session incarnation, unchanged afterwards).
    /// </summary>
    public static async Task HoldsForAsync<T>(string description, TimeSpan period, Func<Task<T>> observe, Func<T, bool> holds)
    {
        var deadline = DateTime.UtcNow + period;
        while (DateTime.UtcNow < deadline)
        {
            var value = await observe();
            if (!holds(value))
            {
                throw new InvalidOperationException($"expected {description} for {period.TotalSeconds} s, but saw {value}");
            }

            await Task.Delay(PollInterval);
        }
    }
}
