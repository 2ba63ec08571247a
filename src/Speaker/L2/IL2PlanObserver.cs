namespace BgpLb.Speaker.L2;

/// <summary>Told about every L2 plan once the announcer has it; called on the L2 reconcile loop, so it must not block.</summary>
public interface IL2PlanObserver
{
    void L2PlanApplied(L2Plan plan);
}
