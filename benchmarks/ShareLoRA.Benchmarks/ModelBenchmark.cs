using System.Diagnostics;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Generation;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;
using Generator = ShareLoRA.Model.Generation.Generator;

namespace ShareLoRA.Benchmarks;

/// <summary>
/// Forward throughput at batch 8 x 256 and single-sequence generation throughput (with and without the KV cache),
/// fp32 on CPU, for the stories260K-sized model and a ~100M-parameter random Llama.
/// </summary>
public static class ModelBenchmark
{
    /// <summary>stories260K's architecture (hidden 64, 5 layers, 8 heads / 4 kv heads, vocab 512).</summary>
    public static LlamaConfig Tiny => new()
    {
        HiddenSize = 64, IntermediateSize = 172, NumHiddenLayers = 5, NumAttentionHeads = 8, NumKeyValueHeads = 4, HeadDim = 8,
        VocabSize = 512, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    /// <summary>A ~110M-parameter Llama: hidden 768, 12 layers, 12 heads / 4 kv heads, ffn 2048, vocab 32000, tied.</summary>
    public static LlamaConfig Base100M => new()
    {
        HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeads = 4, HeadDim = 64,
        VocabSize = 32000, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    /// <param name="args">Optional: "--threads N" (torch intra-op threads), "--tiny-only".</param>
    public static void Run(string[] args)
    {
        int i = Array.IndexOf(args, "--threads");
        if (i >= 0 && i + 1 < args.Length) set_num_threads(int.Parse(args[i + 1]));
        // On shared machines the figures swing with other load; print it beside them.
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        Console.WriteLine($"torch threads {get_num_threads()}, {Environment.ProcessorCount} logical CPUs, load average {load}, fp32 on CPU");
        Measure("tiny (stories260K shape)", Tiny, forwardIters: 10, newTokens: 200, uncachedTokens: 200);
        if (!args.Contains("--tiny-only"))
            Measure("~100M random", Base100M, forwardIters: 2, newTokens: 64, uncachedTokens: 32);
    }

    private static void Measure(string name, LlamaConfig config, int forwardIters, int newTokens, int uncachedTokens)
    {
        using var model = LlamaModel.CreateRandom(config, seed: 1);
        long parameters = model.parameters().Sum(p => p.numel()) - (config.TieWordEmbeddings ? (long)config.VocabSize * config.HiddenSize : 0);
        Console.WriteLine($"\n{name}: {parameters / 1e6:F2}M parameters (tied embedding counted once)");

        const int batch = 8, seq = 256;
        using (no_grad())
        {
            using var gen = new TorchSharp.torch.Generator(7, CPU);
            using var ids = randint(0, config.VocabSize, [batch, seq], ScalarType.Int64, generator: gen);
            using (var warm = model.Forward(ids)) { }
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < forwardIters; i++)
            {
                using var logits = model.Forward(ids);
            }
            sw.Stop();
            double tokens = (double)batch * seq * forwardIters;
            Console.WriteLine($"  forward {batch}x{seq}: {tokens / sw.Elapsed.TotalSeconds:F0} tokens/s ({sw.Elapsed.TotalMilliseconds / forwardIters:F0} ms per batch)");
        }

        int[] prompt = Enumerable.Range(0, 16).Select(i => 1 + i * 7 % (config.VocabSize - 1)).ToArray();
        Generator.Generate(model, prompt, new GenerationOptions(4));   // warm-up
        foreach (var (cached, count) in new[] { (true, newTokens), (false, uncachedTokens) })
        {
            var sw = Stopwatch.StartNew();
            var output = Generator.Generate(model, prompt, new GenerationOptions(count, UseKvCache: cached));
            sw.Stop();
            Console.WriteLine($"  generate (batch 1, prompt 16, {output.Count} new, {(cached ? "KV cache" : "no cache")}): {output.Count / sw.Elapsed.TotalSeconds:F1} tokens/s");
        }
    }
}
