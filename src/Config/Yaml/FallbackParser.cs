using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace BgpLb.Config.Yaml;

/// <summary>
/// YamlDotNet reading part of the stream (one chunk, or everything from a chunk on) through <see cref="YamlJson"/>, with
/// lines and errors translated to positions in the whole stream.
/// </summary>
internal sealed class FallbackParser
{
    private readonly CarryOverTrackingScanner _scanner;
    private readonly Parser _parser;
    private readonly YamlTreeLimits _limits;
    private readonly int _lineOffset;
    private readonly bool _skipPrefixDocument;
    private bool _started;

    /// <param name="text">The YAML from a line start on, without <paramref name="carryOver"/>'s prefix.</param>
    /// <param name="firstLine">The line of the stream where <paramref name="text"/> starts.</param>
    public FallbackParser(TextReader text, ScannerCarryOver carryOver, int firstLine, YamlTreeLimits limits)
    {
        var prefix = carryOver.Prefix;
        _skipPrefixDocument = prefix.Length > 0;
        _scanner = new CarryOverTrackingScanner(new Scanner(_skipPrefixDocument ? new PrefixedReader(prefix, text) : text));
        _parser = new Parser(_scanner);
        _limits = limits;
        _lineOffset = firstLine - 1 - (_skipPrefixDocument ? 1 : 0);
    }

    /// <summary>The scanner's flags after the documents read so far.</summary>
    public ScannerCarryOver CarryOver => _scanner.CarryOver;

    /// <inheritdoc cref="CarryOverTrackingScanner.SawRootBlockScalar"/>
    public bool SawRootBlockScalar => _scanner.SawRootBlockScalar;

    /// <exception cref="YamlSyntaxException"/>
    public bool TryRead(out JsonNode? root, out int line)
    {
        try
        {
            if (!_started)
            {
                _started = true;
                _parser.Consume<StreamStart>();
                if (_skipPrefixDocument)
                {
                    YamlJson.TryReadDocument(_parser, YamlTreeLimits.None, out _);
                }
            }
            if (!YamlJson.TryReadDocument(_parser, _limits, out var document))
            {
                _parser.Consume<StreamEnd>();
                (root, line) = (null, 0);
                return false;
            }
            (root, line) = (document.Root, document.Line + _lineOffset);
            return true;
        }
        catch (YamlException e)
        {
            var message = e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}";
            // Errors without a position carry YamlDotNet's empty mark (1:1), which the whole stream would report too.
            var errorLine = e.Start.Equals(Mark.Empty) ? 1 : (int)e.Start.Line + _lineOffset;
            throw new YamlSyntaxException(StripMarkPrefix(message), errorLine, (int)e.Start.Column, e);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet fails this way on a few malformed inputs (a plain scalar left of a flow collection's indentation).
            var position = _scanner.CurrentPosition;
            throw new YamlSyntaxException($"invalid YAML ({e.Message})", (int)position.Line + _lineOffset, (int)position.Column, e);
        }
    }

    private static string StripMarkPrefix(string message)
    {
        // Some YamlDotNet versions prefix "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; we report line and column separately.
        var index = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith('(') && index >= 0 ? message[(index + 3)..] : message;
    }

    private sealed class PrefixedReader(string prefix, TextReader rest) : TextReader
    {
        private int _prefixRead;

        public override int Peek() => _prefixRead < prefix.Length ? prefix[_prefixRead] : rest.Peek();

        public override int Read() => _prefixRead < prefix.Length ? prefix[_prefixRead++] : rest.Read();

        public override int Read(char[] buffer, int index, int count) => Read(buffer.AsSpan(index, count));

        public override int Read(Span<char> buffer)
        {
            if (_prefixRead >= prefix.Length)
            {
                return rest.Read(buffer);
            }
            var count = Math.Min(buffer.Length, prefix.Length - _prefixRead);
            prefix.AsSpan(_prefixRead, count).CopyTo(buffer);
            _prefixRead += count;
            return count;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                rest.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
