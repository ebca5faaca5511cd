using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// One trainable adapter tensor as the optimizer and the file formats see it. A shared tensor appears once, with
/// <see cref="Layer"/> null. Names: "shared.q.A", "layers.3.q.B" (the native adapter file uses the same names).
/// </summary>
/// <param name="Name">Stable unique name.</param>
/// <param name="Value">The leaf tensor itself (requires grad); owned by the <see cref="AdapterBank"/>.</param>
/// <param name="Shared">True when every layer uses this one tensor.</param>
/// <param name="Module">Module type.</param>
/// <param name="Layer">Global layer index, or null for a shared tensor.</param>
/// <param name="Matrix">'A' ([r, d_in]) or 'B' ([d_out, r]).</param>
public sealed record AdapterParameter(string Name, Tensor Value, bool Shared, TargetModule Module, int? Layer, char Matrix)
{
    public static string SharedName(TargetModule m, char matrix) => $"shared.{m.ShortName()}.{matrix}";
    public static string LayerName(int layer, TargetModule m, char matrix) => $"layers.{layer}.{m.ShortName()}.{matrix}";
}
