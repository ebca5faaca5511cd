using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Pipeline;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Pipeline;

/// <summary>Tiny random Llama models, adapter values, micro-batches and stage chains for pipeline tests.</summary>
internal static class TinyLlama
{
    public const long ModelSeed = 7;
    public const long AdapterSeed = 11;

    public static LlamaConfig Config(int layers = 3, int vocab = 64, int hidden = 32, int intermediate = 48) => new()
    {
        HiddenSize = hidden, IntermediateSize = intermediate, NumHiddenLayers = layers, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = hidden / 4, VocabSize = vocab, MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    public static AdapterLayout Layout(LlamaConfig config, string method, double dropout = 0.1, int rank = 4) =>
        AdapterLayout.ForMethod(method, config.NumHiddenLayers, AdapterLayoutFactory.DimsOf(config), TargetModules.All, rank, 8, dropout);

    /// <summary>Random values for every adapter tensor (B non-zero, so A's gradients are not trivially zero).</summary>
    public static Dictionary<string, Tensor> RandomValues(AdapterLayout layout, long seed)
    {
        using var bank = AdapterBank.Create(layout, seed);
        using var generator = new Generator((ulong)seed + 1000, CPU);
        var values = new Dictionary<string, Tensor>();
        foreach (var p in bank.Parameters)
            values[p.Name] = (randn(p.Value.shape, ScalarType.Float32, CPU, false, generator) * 0.2).DetachFromDisposeScope();
        return values;
    }

    /// <summary>Contiguous layer ranges of <paramref name="stages"/> stages, as even as possible (earlier stages larger).</summary>
    public static IReadOnlyList<(int First, int End)> Split(int layers, int stages)
    {
        var result = new List<(int, int)>();
        int first = 0;
        for (int s = 0; s < stages; s++)
        {
            int count = layers / stages + (s < layers % stages ? 1 : 0);
            result.Add((first, first + count));
            first += count;
        }
        return result;
    }

    public static List<PipelineStage> Stages(LlamaConfig config, AdapterLayout layout, IReadOnlyDictionary<string, Tensor> values, int stages,
        AdamWSettings? optimizer = null)
    {
        var list = new List<PipelineStage>();
        var ranges = Split(config.NumHiddenLayers, stages);
        for (int s = 0; s < stages; s++)
        {
            var (first, end) = ranges[s];
            var model = LlamaModel.CreateRandom(config, ModelSeed, new ModelLoadOptions(first, end, s == 0, s == stages - 1));
            var bank = AdapterBank.Create(layout, AdapterSeed, first, end);
            bank.LoadValues(values, ignoreOthers: true);
            list.Add(new PipelineStage(s, model, bank, optimizer ?? new AdamWSettings()));
        }
        return list;
    }

    /// <summary>A padded micro-batch: rows of different lengths, the first positions unlabeled (a "prompt").</summary>
    public static MicroBatchInput Batch(int vocab, long seed, int rows = 2, int columns = 9)
    {
        var rng = new Random((int)seed);
        var ids = new long[rows * columns];
        var labels = new long[rows * columns];
        var mask = new long[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            int length = columns - r * 2;
            int prompt = 2 + r;
            for (int c = 0; c < columns; c++)
            {
                int i = r * columns + c;
                bool real = c < length;
                ids[i] = real ? rng.Next(3, vocab) : 2;
                mask[i] = real ? 1 : 0;
                labels[i] = real && c >= prompt ? ids[i] : TokenizedExample.IgnoreIndex;
            }
        }
        return new MicroBatchInput(
            tensor(ids, [rows, columns], ScalarType.Int64).DetachFromDisposeScope(),
            tensor(mask, [rows, columns], ScalarType.Int64).DetachFromDisposeScope(),
            tensor(labels, [rows, columns], ScalarType.Int64).DetachFromDisposeScope());
    }

    /// <summary>Positions whose (shifted) label carries loss.</summary>
    public static long Targets(MicroBatchInput b)
    {
        using var scope = NewDisposeScope();
        return b.Labels.narrow(1, 1, b.Labels.shape[1] - 1).ne(-100).sum().item<long>();
    }

    /// <summary>Random token sequences with a prompt part (labels -100) and a target part.</summary>
    public static TokenizedExample[] Examples(int count, int vocab, int seed, int minLength = 6, int maxLength = 14)
    {
        var rng = new Random(seed);
        var result = new TokenizedExample[count];
        for (int i = 0; i < count; i++)
        {
            int length = rng.Next(minLength, maxLength + 1);
            int prompt = rng.Next(1, length / 2 + 1);
            var ids = new int[length];
            var labels = new int[length];
            ids[0] = 1;
            for (int c = 1; c < length; c++) ids[c] = rng.Next(3, vocab);
            for (int c = 0; c < length; c++) labels[c] = c < prompt ? TokenizedExample.IgnoreIndex : ids[c];
            result[i] = new TokenizedExample(ids, labels);
        }
        return result;
    }

    public static void DisposeAll(IEnumerable<IDisposable> items)
    {
        foreach (var item in items) item.Dispose();
    }
}
