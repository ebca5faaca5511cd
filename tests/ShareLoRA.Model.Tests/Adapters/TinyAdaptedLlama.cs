using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

/// <summary>Tiny random Llama models with adapters on all seven modules, for tests that run the whole model.</summary>
internal static class TinyAdaptedLlama
{
    public static readonly string[] Methods = ["lora", "share-a", "share-b", "share-ab"];

    public static IEnumerable<object[]> AllMethods() => Methods.Select(m => new object[] { m });

    /// <summary>
    /// GQA (2 query heads per kv head), head_dim 6 so q/o are 12 wide against hidden 8 (catches q/o dims taken from
    /// hidden_size), untied head. Small enough for element-by-element finite differences.
    /// </summary>
    public static LlamaConfig Config(int layers = 2) => new()
    {
        HiddenSize = 8, IntermediateSize = 12, NumHiddenLayers = layers, NumAttentionHeads = 2, NumKeyValueHeads = 1,
        HeadDim = 6, VocabSize = 16, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = false, BosTokenId = 1, EosTokenIds = [2],
    };

    public static AdapterLayout Layout(LlamaConfig config, string method, int rank = 2, double alpha = 4, double dropout = 0.1) =>
        AdapterLayout.ForMethod(method, config.NumHiddenLayers, AdapterLayout.LlamaDims(config), TargetModules.All, rank, alpha, dropout);

    /// <summary>Sets every B to N(0, std^2) values (A keeps its kaiming draw), so the adapter changes the model and A gets gradients.</summary>
    public static void RandomizeB(AdapterBank bank, long seed, double std = 0.2)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (var p in bank.Parameters.Where(p => p.Matrix == 'B'))
        {
            using var r = randn(p.Value.shape, ScalarType.Float64, CPU, false, g);
            p.Value.copy_(r.mul_(std));
        }
    }

    public static Tensor Ids(int[] ids) => tensor(ids.Select(i => (long)i).ToArray()).view(1, ids.Length);

    /// <summary>Mean next-token cross-entropy of a sequence (the training loss).</summary>
    public static Tensor Loss(LlamaModel model, Tensor ids, IModelAdapters adapters)
    {
        using var scope = NewDisposeScope();
        long n = ids.shape[1];
        var logits = model.Forward(ids.narrow(1, 0, n - 1), adapters: adapters);       // [1, n-1, V]
        var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[2]), ids.narrow(1, 1, n - 1).reshape(-1));
        return loss.MoveToOuterDisposeScope();
    }
}
