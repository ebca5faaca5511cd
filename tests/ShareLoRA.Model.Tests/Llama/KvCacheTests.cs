using ShareLoRA.Model.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>Incremental decoding with the cache and padded batches give the logits of a plain full forward.</summary>
public class KvCacheTests
{
    private static Tensor Ids(params long[] ids) => tensor(ids).view(1, ids.Length);

    // Different matmul shapes round differently in fp32 (about 1e-5 on logits of size ~5), so equality is to 1e-4.
    private static void AssertClose(Tensor expected, Tensor actual, double tol = 1e-4)
    {
        using var diff = (expected - actual).abs().max();
        Assert.True(diff.item<float>() < tol, $"max difference {diff.item<float>():E3}");
    }

    [Theory]
    [MemberData(nameof(TinyConfigs.Names), MemberType = typeof(TinyConfigs))]
    public void CachedChunksEqualOneFullForward(string configName)
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.ByName(configName), seed: 5, initStd: 0.3);
        long[] seq = [1, 7, 3, 9, 22, 40, 5, 5, 61, 13];
        using var scope = NewDisposeScope();
        var full = model.Forward(Ids(seq));                                   // [1, 10, vocab]
        using var cache = new KvCache();
        // Prefill 4, then a chunk of 3 (causal mask with a past), then one token at a time.
        var parts = new List<Tensor> { model.Forward(Ids(seq[..4]), 0, cache) };
        parts.Add(model.Forward(Ids(seq[4..7]), 4, cache));
        for (int t = 7; t < seq.Length; t++) parts.Add(model.Forward(Ids(seq[t]), t, cache));
        Assert.Equal(seq.Length, cache.CurrentLength);
        AssertClose(full, cat(parts, 1));
    }

    [Fact]
    public void CacheMustMatchStartPosition()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Gqa, seed: 5);
        using var cache = new KvCache();
        using var _ = model.Forward(Ids(1, 2, 3), 0, cache);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(Ids(4), 2, cache));
        Assert.Contains("startPosition", e.Message);
    }

    [Fact]
    public void RightPaddedBatchMatchesEachSequenceAlone()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Llama3Scaling, seed: 9, initStd: 0.3);
        using var scope = NewDisposeScope();
        long[] a = [1, 4, 8, 15, 16, 23], b = [1, 42, 7];
        var batch = tensor(new long[] { 1, 4, 8, 15, 16, 23, 1, 42, 7, 0, 0, 0 }).view(2, 6);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }).view(2, 6);
        var logits = model.Forward(batch, attentionMask: mask);               // [2, 6, vocab]
        Assert.False(logits.isnan().any().item<bool>());
        AssertClose(model.Forward(Ids(a)), logits[0].unsqueeze(0));
        AssertClose(model.Forward(Ids(b)), logits[1].narrow(0, 0, 3).unsqueeze(0));
    }
}
