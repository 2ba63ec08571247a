namespace BgpLb.Model;

/// <summary>Identity of one object across versions and sources: kind (without group/version), namespace ("" for Node and Namespace), name.</summary>
public readonly record struct ResourceKey(string Kind, string Namespace, string Name)
{
    public override string ToString() => Namespace.Length == 0 ? $"{Kind} {Name}" : $"{Kind} {Namespace}/{Name}";
}
