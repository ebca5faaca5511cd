using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Gpt2;

/// <summary>Token embedding (wte, [vocab, h]) plus learned absolute position embedding (wpe, [n_positions, h]).</summary>
public sealed class Gpt2Embedding : nn.Module
{
    private readonly Parameter wte, wpe;

    public Gpt2Embedding(Tensor tokenWeight, Tensor positionWeight) : base(nameof(Gpt2Embedding))
    {
        wte = FrozenParameter.From(tokenWeight);
        wpe = FrozenParameter.From(positionWeight);
        register_parameter("wte", wte);
        register_parameter("wpe", wpe);
    }

    public Parameter TokenWeight => wte;
    public Parameter PositionWeight => wpe;

    /// <summary>[b, s] token ids at positions [start, start + s) -> [b, s, h].</summary>
    public Tensor Forward(Tensor inputIds, int startPosition)
    {
        long b = inputIds.shape[0], s = inputIds.shape[1];
        if (startPosition + s > wpe.shape[0])
            throw new ArgumentException($"positions [{startPosition}, {startPosition + s}) exceed the model's n_positions {wpe.shape[0]}");
        using var scope = NewDisposeScope();
        var flat = inputIds.reshape(-1).to(ScalarType.Int64, wte.device);               // [b*s]
        var tokens = wte.index_select(0, flat).view(b, s, wte.shape[1]);                 // [b, s, h]
        var positions = wpe.narrow(0, startPosition, s).unsqueeze(0);                   // [1, s, h]
        return tokens.AddTensor(positions).MoveToOuterDisposeScope();
    }
}
