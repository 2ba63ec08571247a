namespace BgpLb.Config;

/// <summary>Identity of one object across versions and sources: kind (without group/version), namespace, name.</summary>
public readonly record struct ResourceKey(string Kind, string Namespace, string Name)
{
    public override string ToString() => $"{Kind} {Namespace}/{Name}";
}
