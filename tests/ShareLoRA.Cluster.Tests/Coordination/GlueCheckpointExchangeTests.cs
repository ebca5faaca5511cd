using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Tests.Persistence;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Trainer;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.Coordination;

/// <summary>A GLUE run's checkpoint as the coordinator hands it back to restored stages.</summary>
public sealed class GlueCheckpointExchangeTests
{
    /// <summary>
    /// A checkpoint of a 2-stage RoBERTa/SST-2 run (written by the local trainer, which writes the same layout as the
    /// coordinator) cut for the cluster's stages: the last stage's parts carry the trained classifier head ("head.*")
    /// bitwise with its AdamW state, the first stage's do not, and together they hold every per-layer tensor.
    /// </summary>
    [SkippableFact]
    public void TheClassifierHeadOfACheckpointGoesToTheLastStageOnly()
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        using var folder = new TempFolder();
        var model = Path.Combine(folder.Path, "roberta");
        using (var roberta = RobertaModel.CreateRandom(new RobertaConfig(VocabSize: 50265, HiddenSize: 16, NumLayers: 3, NumHeads: 2,
                   IntermediateSize: 32, MaxPositions: 40, NumLabels: 2), seed: 3, initStd: 0.1))
            roberta.Save(model);
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        var train = Path.Combine(folder.Path, "train.tsv");
        File.WriteAllText(train, "sentence\tlabel\n" + string.Concat(Enumerable.Range(0, 8).Select(i => $"row {i} is {(i % 2 == 0 ? "fine" : "poor")}\t{i % 2}\n")));
        var jobPath = Path.Combine(folder.Path, "job.json");
        File.WriteAllText(jobPath, $$"""
            {
              "model": "{{model}}",
              "task": { "kind": "glue", "name": "sst2" },
              "data": { "train": "{{train}}", "source_max_len": 16 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "targets": ["q", "v"] },
              "batch": { "micro_batch_size": 2, "micro_batches": 2 },
              "steps": 2,
              "output": "{{Path.Combine(folder.Path, "run")}}",
              "pipeline": { "stages": 2 }
            }
            """);
        var job = JobConfig.Load(jobPath);
        LocalPipelineTrainer.Run(job);

        using var run = JobRun.Start("glue-1", job, resume: true);
        using var state = run.LoadLatestCheckpoint()!;
        var decoded = run.Plan.Stages.Select(s => StageStateWire.Decode(CheckpointExchange.RestoreParts(state, run, s.FirstLayer, s.EndLayer), $"stage {s.Index}")).ToList();
        try
        {
            var first = decoded[0].State;
            var last = decoded[^1].State;
            Assert.DoesNotContain(first.Values.Keys, k => k.StartsWith("head.", StringComparison.Ordinal));
            var head = last.Values.Keys.Where(k => k.StartsWith("head.", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(["head.classifier.dense.bias", "head.classifier.dense.weight", "head.classifier.out_proj.bias", "head.classifier.out_proj.weight"], head);
            using var slice = state.ForStage(run.Plan.Stages[^1].FirstLayer, run.Plan.Stages[^1].EndLayer, holdsHead: true);
            foreach (var name in head)
            {
                using var scope = NewDisposeScope();
                Assert.True(eq(slice.Values[name], last.Values[name]).all().item<bool>(), $"{name} is not the checkpoint's");
                Assert.Equal(2, last.Optimizer[name].Step);
            }
            Assert.Equal(state.LayerTensorNames.Count, decoded.Sum(d => d.State.Values.Count));
        }
        finally
        {
            foreach (var d in decoded)
            {
                d.State.Dispose();
                foreach (var t in d.Shared.Values) t.Dispose();
            }
        }
    }
}
