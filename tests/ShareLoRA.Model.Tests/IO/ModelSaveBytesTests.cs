using System.Security.Cryptography;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tests.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.IO;

/// <summary>
/// Every family's Save writes exactly the same bytes as before the three Save methods were folded into one: config.json
/// and model.safetensors of a tiny seeded random model, per dtype, pinned by sha256. A change here means saved model
/// directories differ from what earlier builds wrote (key order, dtype naming, the RoBERTa head's cast, the header).
/// </summary>
public class ModelSaveBytesTests
{
    private static readonly Gpt2Config Gpt2Tiny = new(VocabSize: 37, MaxPositions: 16, HiddenSize: 12, NumLayers: 2, NumHeads: 3, InnerSize: 20);
    private static readonly RobertaConfig RobertaTiny = new(VocabSize: 29, HiddenSize: 12, NumLayers: 2, NumHeads: 3, IntermediateSize: 20,
        MaxPositions: 12, TypeVocabSize: 2, NumLabels: 3);

    [Theory]
    [InlineData("llama-tied", ScalarType.Float32,
        "13218d0402638111282d6a32d07ce82f44db167541f7e4f4077cd66883c837cb",
        "6478dc8a97d0adab5cb8f26289f44f4d9da27a9dcc7748fd3daee8ab6eaced42")]
    [InlineData("llama-untied", ScalarType.BFloat16,
        "3e3069a48db879047582f27c16895a357f9199aa27f1b1c1ae6301c484812a31",
        "24a6f64ff93778ebe62071bc041cd08483cd3486f50eba6325cb3cf61c74683f")]
    [InlineData("gpt2", ScalarType.Float32,
        "95f01084159cbdb8188dce4992ca3410cf31f332190728ea89cec34bc138fb57",
        "b772ac14a6f41442c85e274e35f2601ffe958c5b123bc22c772d5754075627bd")]
    [InlineData("gpt2", ScalarType.Float16,
        "789c0915ea01ece078cd0103367614e610b693242d41bd0071811caacd314c10",
        "02cf70f413f1f66d00464effca4de3c45b351e783f0328f2026b8dc2cd7fe00b")]
    [InlineData("roberta", ScalarType.Float32,
        "4d871bedbcf464c72beee2e73f07f6dbf5f66465a1edea52a1bd216bff72aa0e",
        "d5904077b0b94ed2fa60217cd61e98a482bced93d84ba23efea8189d15d00875")]
    [InlineData("roberta", ScalarType.BFloat16,
        "dac474c6e4165ae17aac750fcc1da6888116c745d6868fb8cb4d1cc0d2aa8f71",
        "4368fe210ec6f804b394a87b51eb13e45dc7b9cb2288fb60daa8c73f07d3e53d")]
    public void SavedFilesKeepTheirBytes(string family, ScalarType dtype, string configSha256, string safetensorsSha256)
    {
        using var dir = new TempDir();
        var options = new ModelLoadOptions(DType: dtype);
        using (var model = Create(family, options))
            Save(model, dir.Path);

        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal((configSha256, safetensorsSha256), (Sha256(dir.File("config.json")), Sha256(dir.File("model.safetensors"))));
    }

    private static IDisposable Create(string family, ModelLoadOptions options) => family switch
    {
        "llama-tied" => LlamaModel.CreateRandom(TinyConfigs.Gqa, 5, options),
        "llama-untied" => LlamaModel.CreateRandom(TinyConfigs.Untied, 5, options),
        "gpt2" => Gpt2Model.CreateRandom(Gpt2Tiny, 5, options),
        "roberta" => RobertaModel.CreateRandom(RobertaTiny, 5, options),
        _ => throw new ArgumentException(family),
    };

    private static void Save(IDisposable model, string dir)
    {
        switch (model)
        {
            case LlamaModel m: m.Save(dir); break;
            case Gpt2Model m: m.Save(dir); break;
            case RobertaModel m: m.Save(dir); break;
        }
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
