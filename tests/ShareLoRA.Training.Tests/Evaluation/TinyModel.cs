using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;

namespace ShareLoRA.Training.Tests.Evaluation;

/// <summary>A tiny random Llama whose vocabulary fits <see cref="AlphabetTokenizer"/>.</summary>
public static class TinyModel
{
    public static LlamaConfig Config(int maxPositions = 256) => new()
    {
        HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, VocabSize = 80, MaxPositionEmbeddings = maxPositions, RmsNormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    // A larger init than the default 0.02 so that logits differ clearly between tokens (argmax ties are unlikely).
    public static LlamaModel Create(long seed = 7, int maxPositions = 256) => LlamaModel.CreateRandom(Config(maxPositions), seed, initStd: 0.5);
}
