namespace BgpLb.Config.Yaml;

/// <summary>A YAML stream or document larger than <see cref="YamlReaderOptions"/> allow; the message names the limit.</summary>
public sealed class YamlLimitException(string message) : Exception(message);
