namespace BgpLb.Speaker;

internal static class LogLevels
{
    /// <summary>More changes than this in one pass are one summary line at Information and one line each at Debug.</summary>
    public const int MaxLinesAtInformation = 100;

    /// <summary>The level for each of <paramref name="count"/> changes made together: a first load of thousands is not thousands of lines.</summary>
    public static LogLevel ForBulk(int count) => count > MaxLinesAtInformation ? LogLevel.Debug : LogLevel.Information;
}
