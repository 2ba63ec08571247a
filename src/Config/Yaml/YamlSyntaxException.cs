namespace BgpLb.Config.Yaml;

/// <summary>A YAML document that cannot be read, at an absolute 1-based line and column of the stream.</summary>
public sealed class YamlSyntaxException(string message, int line, int column, Exception? innerException = null)
    : Exception(message, innerException)
{
    public int Line { get; } = line;
    public int Column { get; } = column;
}
