using BgpLb.Config;
using BgpLb.Planning;

namespace BgpLb.Speaker;

/// <summary>One pass of the speaker's reconcile loop, as its observers see it.</summary>
/// <param name="State">The cluster state; valid only during the call.</param>
/// <param name="Changes">What the pass changed (plans, routes, peers, L2).</param>
/// <param name="ProblemsChanged">The configuration problems changed (see <see cref="ClusterState.Problems"/>).</param>
public sealed record SpeakerPass(ClusterState State, PlanDelta Changes, bool ProblemsChanged);

/// <summary>Told about every pass once its changes reached the sessions and the L2 announcer; called on the loop, so it must not block.</summary>
public interface ISpeakerObserver
{
    void Applied(SpeakerPass pass);
}
