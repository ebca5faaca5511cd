using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.SmallSystems;

namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// The <see cref="TrainingData"/> of a GLUE job (<c>"task": {"kind": "glue"}</c>): data.train (and data.eval when set) read
/// as the task's TSV, encoded as <see cref="GlueInputEncoder"/> does for `sharelora glue` (max length data.source_max_len,
/// capped by the model's positions), each example's class id or score as its sequence-level
/// <see cref="TokenizedExample.RowLabel"/>. The pipeline stages and the data loader then treat it like any other data.
/// </summary>
public static class GlueJobData
{
    /// <summary>The task of a GLUE job.</summary>
    public static GlueTaskSpec SpecOf(JobConfig job) =>
        job.Task is { Kind: TaskConfig.Glue } task ? GlueTasks.Parse(task.Name ?? "")
            : throw new JobConfigException($"job '{job.Name}': task.kind must be \"{TaskConfig.Glue}\" for GLUE data");

    public static TrainingData Prepare(JobConfig job, ITextTokenizer tokenizer)
    {
        var spec = SpecOf(job);
        if (job.Data.EvalFraction > 0)
            throw new JobConfigException($"job '{job.Name}': data.eval_fraction is not supported for GLUE jobs; set data.eval to the task's dev TSV");
        var config = RobertaConfig.Load(Path.Combine(job.Model, "config.json"));
        var encoder = new GlueInputEncoder(tokenizer, Math.Min(job.Data.SourceMaxLen, config.MaxPositions - config.PadTokenId - 1));
        var train = Encode(GlueReader.Read(spec, job.Data.Train), encoder, spec);
        if (train.Count == 0) throw new DatasetException($"{job.Data.Train}: no {spec.Name} training rows");
        var eval = job.Data.Eval is null ? [] : Encode(GlueReader.Read(spec, job.Data.Eval), encoder, spec);
        if (job.Data.EvalMaxExamples > 0 && eval.Count > job.Data.EvalMaxExamples) eval = eval.Take(job.Data.EvalMaxExamples).ToList();
        var report = new DataReport("glue-" + spec.Name, train.Count, eval.Count, 0, 0, [], 0, 0,
            train.Sum(e => (long)e.Length), train.Count);
        return new TrainingData(train, eval, report);
    }

    private static List<TokenizedExample> Encode(IReadOnlyList<GlueExample> examples, GlueInputEncoder encoder, GlueTaskSpec spec) =>
        examples.Select(e =>
        {
            var ids = encoder.Encode(e);
            var labels = new int[ids.Length];
            Array.Fill(labels, TokenizedExample.IgnoreIndex);
            return new TokenizedExample(ids, labels) { RowLabel = spec.IsRegression ? (float)e.Score : e.Label };
        }).ToList();
}
