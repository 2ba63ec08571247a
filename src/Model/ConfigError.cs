using System.Text;

namespace BgpLb.Model;

public enum ConfigSeverity
{
    Warning,
    Error,
}

/// <summary>
/// One problem found while reading or validating configuration. <see cref="Origin"/> is the file (FileStore) or
/// another source name; <see cref="Field"/> is a JSON path such as <c>spec.peerASN</c> or <c>spec.addresses[1]</c>.
/// </summary>
public sealed record ConfigError(
    ConfigSeverity Severity,
    string Origin,
    ResourceKey? Resource,
    string? Field,
    string Message,
    int? Line = null,
    int? Column = null)
{
    public override string ToString()
    {
        var text = new StringBuilder(Origin);
        if (Line is { } line)
        {
            text.Append(':').Append(line);
            if (Column is { } column)
            {
                text.Append(':').Append(column);
            }
        }
        if (Resource is { } key)
        {
            text.Append(": ").Append(key);
        }
        if (!string.IsNullOrEmpty(Field))
        {
            text.Append(": ").Append(Field);
        }
        return text.Append(": ").Append(Message).ToString();
    }
}
