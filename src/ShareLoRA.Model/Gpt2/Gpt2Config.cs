using System.Text.Json;
using System.Text.Json.Nodes;
using ShareLoRA.Model.Config;

namespace ShareLoRA.Model.Gpt2;

/// <summary>
/// The architecture of a GPT-2 model as a Hugging Face config.json (GPT2LMHeadModel) describes it: learned absolute
/// positions, pre-LayerNorm blocks, GELU with the tanh approximation ("gelu_new"), a head tied to the token embedding.
/// </summary>
/// <param name="VocabSize">vocab_size (50257 for OpenAI's GPT-2).</param>
/// <param name="MaxPositions">n_positions: rows of the position table, the longest sequence the model can run.</param>
/// <param name="HiddenSize">n_embd.</param>
/// <param name="NumLayers">n_layer.</param>
/// <param name="NumHeads">n_head.</param>
/// <param name="InnerSize">n_inner, or 4 x n_embd when null in the file.</param>
/// <param name="LayerNormEps">layer_norm_epsilon.</param>
public sealed record Gpt2Config(
    int VocabSize,
    int MaxPositions,
    int HiddenSize,
    int NumLayers,
    int NumHeads,
    int InnerSize,
    double LayerNormEps = 1e-5,
    int? BosTokenId = 50256,
    int? EosTokenId = 50256,
    string? TorchDtype = null)
{
    /// <summary>Per-head dimension n_embd / n_head.</summary>
    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>GPT-2 small (124M) with the usual 50257-token vocabulary; handy for shapes.</summary>
    public static Gpt2Config Small => new(50257, 1024, 768, 12, 12, 3072);

    public static Gpt2Config Load(string configJsonPath) => Parse(ConfigJsonReader.Load(configJsonPath));

    /// <summary>Parses config.json text; <paramref name="sourceName"/> names the file in error messages.</summary>
    public static Gpt2Config Parse(string json, string sourceName) => Parse(ConfigJsonReader.Parse(json, sourceName));

    private static Gpt2Config Parse(ConfigJsonReader r)
    {
        r.RequireModelType("gpt2");
        var act = r.OptString("activation_function");
        if (act != null && act != "gelu_new")
            throw new InvalidDataException($"{r.Source}: activation_function must be \"gelu_new\" (got \"{act}\")");
        if (r.OptBool("scale_attn_by_inverse_layer_idx") == true)
            throw new InvalidDataException($"{r.Source}: scale_attn_by_inverse_layer_idx true is not supported");
        if (r.OptBool("scale_attn_weights") == false)
            throw new InvalidDataException($"{r.Source}: scale_attn_weights false is not supported");
        int hidden = r.ReqPositiveInt("n_embd"), heads = r.ReqPositiveInt("n_head");
        if (hidden % heads != 0)
            throw new InvalidDataException($"{r.Source}: n_embd {hidden} must be divisible by n_head {heads}");
        return new Gpt2Config(
            VocabSize: r.ReqPositiveInt("vocab_size"),
            MaxPositions: r.OptPositiveInt("n_positions") ?? 1024,
            HiddenSize: hidden,
            NumLayers: r.ReqPositiveInt("n_layer"),
            NumHeads: heads,
            InnerSize: r.OptPositiveInt("n_inner") ?? 4 * hidden,
            LayerNormEps: r.OptPositiveDouble("layer_norm_epsilon") ?? 1e-5,
            BosTokenId: r.OptInt("bos_token_id"),
            EosTokenId: r.OptInt("eos_token_id"),
            TorchDtype: r.OptString("torch_dtype"));
    }

    /// <summary>The config as a Hugging Face config.json; <see cref="Parse(string, string)"/> of it gives an equal record.</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["model_type"] = "gpt2",
            ["vocab_size"] = VocabSize,
            ["n_positions"] = MaxPositions,
            ["n_embd"] = HiddenSize,
            ["n_layer"] = NumLayers,
            ["n_head"] = NumHeads,
            ["n_inner"] = InnerSize,
            ["activation_function"] = "gelu_new",
            ["layer_norm_epsilon"] = LayerNormEps,
            ["tie_word_embeddings"] = true,
        };
        if (BosTokenId != null) o["bos_token_id"] = BosTokenId;
        if (EosTokenId != null) o["eos_token_id"] = EosTokenId;
        if (TorchDtype != null) o["torch_dtype"] = TorchDtype;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
