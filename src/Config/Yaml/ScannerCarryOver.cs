using YamlDotNet.Core;
using YamlDotNet.Core.Tokens;

namespace BgpLb.Config.Yaml;

/// <summary>
/// Three flags of YamlDotNet's scanner that outlive a document (only a plain scalar resets them) and change how a later
/// ':' is read: after "a: [x]", the document "--- :c" reads as "c" but on its own as ":c". A document that YamlDotNet
/// reads on its own starts from the same flags as in the whole stream by replaying <see cref="Prefix"/> first.
/// </summary>
internal struct ScannerCarryOver
{
    private bool _flowScalar;
    private bool _flowCollectionEnd;
    private bool _flowCollectionStart;

    public void OnPlainScalar() => this = default;

    public void OnQuotedScalar(bool inFlow) => _flowScalar = inFlow;

    public void OnFlowCollectionStart() => _flowCollectionStart = true;

    public void OnFlowCollectionEnd() => _flowCollectionEnd = true;

    /// <summary>One line that leaves YamlDotNet's scanner with these flags (and a document to drop), or "".</summary>
    /// <remarks>
    /// A complete document closes every collection it opens after its last plain scalar, so a flow start or a quoted
    /// scalar in flow always comes with a flow end: these five states are all there are.
    /// </remarks>
    public readonly string Prefix => (_flowScalar, _flowCollectionEnd, _flowCollectionStart) switch
    {
        (false, true, false) => "[a]\n",
        (false, true, true) => "[]\n",
        (true, true, false) => "[a, \"\"]\n",
        (true, true, true) => "[\"\"]\n",
        _ => "",
    };
}

/// <summary>Follows <see cref="ScannerCarryOver"/> through the tokens YamlDotNet's parser takes from its scanner.</summary>
internal sealed class CarryOverTrackingScanner(IScanner scanner) : IScanner
{
    private ScannerCarryOver _carryOver;
    private int _flowLevel;
    private bool _beforeRoot;

    public ScannerCarryOver CarryOver => _carryOver;

    /// <summary>
    /// Whether a document's root was a block scalar ("--- |"): with its text at column 0, YamlDotNet reads on over "---"
    /// lines, so that document does not end where the stream is cut.
    /// </summary>
    public bool SawRootBlockScalar { get; private set; }

    public Mark CurrentPosition => scanner.CurrentPosition;

    public Token? Current => scanner.Current;

    public bool MoveNext() => Observe(scanner.MoveNext());

    public bool MoveNextWithoutConsuming() => Observe(scanner.MoveNextWithoutConsuming());

    public void ConsumeCurrent() => scanner.ConsumeCurrent();

    private bool Observe(bool moved)
    {
        var token = moved ? scanner.Current : null;
        if (_beforeRoot && token is not (null or Anchor or Tag))
        {
            SawRootBlockScalar |= token is Scalar { Style: ScalarStyle.Literal or ScalarStyle.Folded };
        }
        _beforeRoot = token switch
        {
            StreamStart or DocumentStart or DocumentEnd => true,
            null or Anchor or Tag => _beforeRoot,
            _ => false,
        };
        switch (token)
        {
            case Scalar { Style: ScalarStyle.Plain }:
                _carryOver.OnPlainScalar();
                break;
            case Scalar { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted }:
                _carryOver.OnQuotedScalar(_flowLevel > 0);
                break;
            case FlowSequenceStart or FlowMappingStart:
                _carryOver.OnFlowCollectionStart();
                _flowLevel++;
                break;
            case FlowSequenceEnd or FlowMappingEnd:
                _carryOver.OnFlowCollectionEnd();
                _flowLevel = Math.Max(0, _flowLevel - 1);
                break;
        }
        return moved;
    }
}
