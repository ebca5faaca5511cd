using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>
/// A saved tiny random Llama (GQA, 3 layers, untied head, vocab 512 like stories260K) and a share-a adapter directory
/// for it with random non-zero B, laid out as a training run writes it (RUN/adapter/). Built once per test class.
/// </summary>
public sealed class TinyModelFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"sharelora-cli-adapter-tests-{Guid.NewGuid():N}");
    public string ModelDir => Path.Combine(Root, "model");
    public string RunDir => Path.Combine(Root, "run");
    public string AdapterDir => Path.Combine(RunDir, AdapterDirectory.SubdirectoryName);

    public LlamaConfig Config { get; } = new()
    {
        HiddenSize = 16, IntermediateSize = 24, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 4, VocabSize = 512, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = false, BosTokenId = 1, EosTokenIds = [2],
    };

    public LlamaModel Model { get; }
    public AdapterBank Bank { get; }

    public TinyModelFixture()
    {
        Model = LlamaModel.CreateRandom(Config, seed: 17, initStd: 0.3);
        Model.Save(ModelDir);
        Bank = AdapterBank.Create(AdapterLayout.ForMethod("share-a", Config.NumHiddenLayers, AdapterLayout.LlamaDims(Config),
            TargetModules.All, rank: 4, alpha: 8, dropout: 0.1), seed: 5);
        RandomizeB(Bank, 6);
        AdapterDirectory.Save(Bank, AdapterDir, "tiny-base");
    }

    public static void RandomizeB(AdapterBank bank, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (var p in bank.Parameters.Where(p => p.Matrix == 'B'))
        {
            using var r = randn(p.Value.shape, ScalarType.Float32, CPU, false, g);
            p.Value.copy_(r.mul_(0.2f));
        }
    }

    /// <summary>A fresh empty directory under the fixture's root.</summary>
    public string NewDir(string name) => Path.Combine(Root, $"{name}-{Guid.NewGuid():N}");

    public void Dispose()
    {
        Bank.Dispose();
        Model.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
