using BgpLb.Config;

namespace BgpLb.Speaker.Bgp;

/// <summary>Told about every BGP plan once it has been handed to the sessions; called on the reconcile loop, so it must not block.</summary>
public interface IBgpPlanObserver
{
    void PlanApplied(ConfigUpdate update, BgpPlan plan);
}
