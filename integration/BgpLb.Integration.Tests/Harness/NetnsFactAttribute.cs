using BgpLb.Netlab;
namespace BgpLb.Integration.Tests.Harness;


/// <summary>
/// A fact that needs root, iproute2 and the three router daemons. When something is missing the test is
/// skipped with a reason that names it; CI treats any skipped integration test as a failure.
/// </summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute() => Skip = LabPrerequisites.MissingReason;

    /// <summary>Also skip when bgplb-speaker is not built (tests that start speakers, e.g. the L2 lab's).</summary>
    public bool NeedsSpeaker
    {
        get => field;
        set
        {
            field = value;
            Skip = LabPrerequisites.MissingReason ?? (value ? LabPrerequisites.SpeakerMissingReason() : null);
        }
    }
}

/// <summary>The theory form of <see cref="NetnsFactAttribute"/>.</summary>
public sealed class NetnsTheoryAttribute : TheoryAttribute
{
    public NetnsTheoryAttribute() => Skip = LabPrerequisites.MissingReason;
}
