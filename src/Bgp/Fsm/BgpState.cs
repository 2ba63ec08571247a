namespace BgpLb.Bgp.Fsm;

/// <summary>RFC 4271 §8.2.2 session states.</summary>
public enum BgpState
{
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}
