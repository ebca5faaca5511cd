using System.Text.Json;
using ShareLoRA.Model;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// Builds a pipeline stage's model part from a Hugging Face directory, choosing the family from config.json's
/// model_type: "gpt2" and "roberta" as named, anything else as Llama (the same rule as ModelShape.FromHfConfigJson,
/// so the planner and the stages always agree on the family).
/// </summary>
public static class StageModels
{
    /// <summary>The family of the model in <paramref name="modelDirectory"/> (config.json's model_type).</summary>
    public static ModelFamily FamilyOf(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model config not found", path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model_type", out var type)
                && type.ValueKind == JsonValueKind.String)
                return type.GetString() switch
                {
                    "gpt2" => ModelFamily.Gpt2,
                    "roberta" => ModelFamily.Roberta,
                    _ => ModelFamily.Llama,
                };
            return ModelFamily.Llama;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})", e);
        }
    }

    /// <summary>Loads the part <paramref name="options"/> describes, reading only its tensors.</summary>
    /// <param name="modelDirectory">A Hugging Face model directory.</param>
    /// <param name="options">Layer range, embedding/head, dtype, device.</param>
    /// <param name="seed">Seeds a RoBERTa classifier the checkpoint lacks (a pre-trained encoder); unused otherwise.</param>
    /// <param name="labelSmoothing">GPT-2 only: eps of the label-smoothed LM loss (E2E uses 0.1).</param>
    public static IStageModel Load(string modelDirectory, ModelLoadOptions options, long seed = 0, double labelSmoothing = 0.0)
    {
        var family = FamilyOf(modelDirectory);
        if (!(labelSmoothing >= 0 && labelSmoothing < 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"label smoothing must be in [0, 1) (got {labelSmoothing})");
        if (labelSmoothing != 0 && family != ModelFamily.Gpt2)
            throw new ArgumentException($"{modelDirectory}: label smoothing is implemented for GPT-2 stages only (the model is {family.Name()})");
        return family switch
        {
            ModelFamily.Gpt2 => new Gpt2StageModel(Gpt2Model.Load(modelDirectory, options), labelSmoothing),
            ModelFamily.Roberta => new RobertaStageModel(RobertaModel.Load(modelDirectory, options, seed)),
            _ => new LlamaStageModel(LlamaModel.Load(modelDirectory, options)),
        };
    }
}
