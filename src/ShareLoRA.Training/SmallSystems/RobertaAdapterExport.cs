using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Training.Tasks.Glue;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// Writes a GLUE run's adapter directory: the native adapter.safetensors (shared matrices once) plus classifier.safetensors
/// (the trained head under HF names "classifier.dense.weight", ...), and a PEFT SEQ_CLS LoRA pair whose
/// adapter_model.safetensors holds "base_model.model.roberta.encoder.layer.{i}.attention.self.{query|value}.lora_{A|B}.weight"
/// (shared matrices repeated per layer) and the head as PEFT saves modules_to_save: "base_model.model.classifier.dense.weight" etc.
/// </summary>
public static class RobertaAdapterExport
{
    public const string HeadFileName = "classifier.safetensors";

    /// <summary>PEFT's module name of a RoBERTa target ("query", "value", ...).</summary>
    public static string ModuleName(TargetModule m) => m switch
    {
        TargetModule.Q => "query",
        TargetModule.K => "key",
        TargetModule.V => "value",
        TargetModule.O => "dense",
        TargetModule.Up => "dense",
        TargetModule.Down => "dense",
        _ => throw new ArgumentOutOfRangeException(nameof(m), $"RoBERTa has no {m.ShortName()} module"),
    };

    private static string ModulePath(TargetModule m) => m switch
    {
        TargetModule.Q => RobertaKeys.Query,
        TargetModule.K => RobertaKeys.Key,
        TargetModule.V => RobertaKeys.Value,
        TargetModule.O => RobertaKeys.AttentionOutput,
        TargetModule.Up => RobertaKeys.Intermediate,
        TargetModule.Down => RobertaKeys.Output,
        _ => throw new ArgumentOutOfRangeException(nameof(m)),
    };

    /// <summary>PEFT key of one LoRA matrix.</summary>
    public static string LoraKey(int layer, TargetModule m, char matrix) =>
        $"base_model.model.{RobertaKeys.Layer(layer)}{ModulePath(m)}.lora_{matrix}.weight";

    /// <summary>PEFT key of a head tensor ("classifier.dense.weight" -> "base_model.model.classifier.dense.weight").</summary>
    public static string HeadKey(string hfName) => "base_model.model." + hfName;

    public static void Save(AdapterBank bank, RobertaModel model, string dir, string baseModelNameOrPath, GlueTaskSpec task) =>
        Save(bank, model.HeadParameters().Select(p => (p.Key, (Tensor)p.Value)).ToList(), dir, baseModelNameOrPath, task);

    /// <summary>The same files from the head tensors under their HF names ("classifier.dense.weight", ...): what a
    /// pipeline run has, whose head lives on its last stage.</summary>
    public static void Save(AdapterBank bank, IReadOnlyList<(string Name, Tensor Value)> headTensors, string dir, string baseModelNameOrPath,
        GlueTaskSpec task)
    {
        var layout = bank.Layout;
        if (bank.FirstLayer != 0 || bank.EndLayer != layout.NumLayers)
            throw new ArgumentException("roberta adapter export needs every layer's adapters");
        Directory.CreateDirectory(dir);
        NativeAdapterFormat.Save(bank, Path.Combine(dir, NativeAdapterFormat.FileName));
        using var scope = NewDisposeScope();
        var head = headTensors.Select(p => (p.Name, p.Value.detach().to_type(ScalarType.Float32))).ToList();
        SafetensorsWriter.Write(Path.Combine(dir, HeadFileName), head, new Dictionary<string, string> { ["format"] = "pt", ["task"] = task.Name });

        var targets = layout.OrderedTargets;
        if (targets.Select(ModuleName).Distinct().Count() != targets.Count)
            throw new ArgumentException("PEFT target_modules by name cannot tell RoBERTa's o/up/down 'dense' modules apart; export q, k, v only");
        using (var stream = File.Create(Path.Combine(dir, PeftAdapterFormat.ConfigFileName)))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("peft_type", "LORA");
            w.WriteString("task_type", "SEQ_CLS");
            w.WriteString("base_model_name_or_path", baseModelNameOrPath);
            w.WriteNumber("r", layout.Rank);
            w.WriteNumber("lora_alpha", layout.Alpha);
            w.WriteNumber("lora_dropout", layout.Dropout);
            w.WriteStartArray("target_modules");
            foreach (var m in targets) w.WriteStringValue(ModuleName(m));
            w.WriteEndArray();
            PeftAdapterFormat.WriteLoraSettings(w, fanInFanOut: false, modulesToSave: ["classifier"]);
            w.WriteStartObject("sharelora");
            w.WriteString("method", layout.MethodName);
            w.WriteStartArray("shared_a");
            foreach (var m in targets.Where(layout.IsSharedA)) w.WriteStringValue(ModuleName(m));
            w.WriteEndArray();
            w.WriteStartArray("shared_b");
            foreach (var m in targets.Where(layout.IsSharedB)) w.WriteStringValue(ModuleName(m));
            w.WriteEndArray();
            w.WriteNumber("num_layers", layout.NumLayers);
            w.WriteNumber("num_labels", task.OutputCount);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var tensors = new List<(string, Tensor)>();
        for (int l = 0; l < layout.NumLayers; l++)
            foreach (var m in targets)
            {
                tensors.Add((LoraKey(l, m, 'A'), bank.A(m, l)));
                tensors.Add((LoraKey(l, m, 'B'), bank.B(m, l)));
            }
        tensors.AddRange(head.Select(h => (HeadKey(h.Item1), h.Item2)));
        SafetensorsWriter.Write(Path.Combine(dir, PeftAdapterFormat.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }
}
