using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// The marker RUN/checkpoints/best.json: the committed checkpoint with the lowest finite eval loss (the paper's "best
/// checkpoint by eval loss"), its step, that loss and its folder name. <see cref="CheckpointStore"/> rewrites it
/// atomically after a save that changes the best, and the best checkpoint is never pruned, so the folder exists.
/// </summary>
/// <param name="Step">Step of the checkpoint.</param>
/// <param name="EvalLoss">Its eval loss (finite).</param>
/// <param name="Folder">Folder name under RUN/checkpoints, e.g. "step-000300".</param>
public sealed record BestCheckpoint(long Step, double EvalLoss, string Folder)
{
    /// <summary>File name of the marker inside RUN/checkpoints.</summary>
    public const string FileName = "best.json";

    public string ToJson() => new JsonObject
    {
        ["step"] = Step,
        ["eval_loss"] = EvalLoss,
        ["folder"] = Folder,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Parses best.json; throws <see cref="InvalidDataException"/> naming <paramref name="source"/> and the field.</summary>
    public static BestCheckpoint Parse(string json, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message.Split(" Path:")[0]})");
        }
        long step = Field(root, "step", source, n => n.GetValue<long>());
        double loss = Field(root, "eval_loss", source, n => n.GetValue<double>());
        string folder = Field(root, "folder", source, n => n.GetValue<string>());
        if (step < 0) throw new InvalidDataException($"{source}: step must be >= 0 (got {step.ToString(CultureInfo.InvariantCulture)})");
        if (!double.IsFinite(loss)) throw new InvalidDataException($"{source}: eval_loss must be finite");
        if (!CheckpointNames.TryParseFolder(folder, out var folderStep) || folderStep != step)
            throw new InvalidDataException($"{source}: folder must be the checkpoint folder of step {step} ({CheckpointNames.Folder(step)}), found \"{folder}\"");
        return new BestCheckpoint(step, loss, folder);
    }

    private static T Field<T>(JsonObject root, string name, string source, Func<JsonNode, T> read)
    {
        if (root[name] is not { } node) throw new InvalidDataException($"{source}: field '{name}' is missing");
        try { return read(node); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{source}: field '{name}' has the wrong type ({node.ToJsonString()})");
        }
    }
}
