using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.SmallSystems;

namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// The <see cref="TrainingData"/> of an E2E job (<c>"task": {"kind": "e2e"}</c>): data.train (and data.eval when set)
/// read as `sharelora e2e train` reads them (<see cref="E2eReader.ReadTrainingPairs"/>: the official CSV or LoRA's
/// processed text), one sequence per (MR, reference) pair encoded by <see cref="E2eSequenceEncoder"/> (query + EOS,
/// " " + reference + EOS) and cut to data.source_max_len + data.target_max_len tokens (at most n_positions) as
/// <see cref="E2eTrainer"/> cuts to its seq_len. Labels are the ids of the completion tokens (final EOS included) and
/// -100 on the query, i.e. exactly the positions E2eTrainer's loss counts.
/// </summary>
public static class E2eJobData
{
    /// <summary>The data report's format name.</summary>
    public const string Format = "e2e";

    public static TrainingData Prepare(JobConfig job, ITextTokenizer tokenizer)
    {
        if (job.Task is not { Kind: TaskConfig.E2e })
            throw new JobConfigException($"job '{job.Name}': task.kind must be \"{TaskConfig.E2e}\" for E2E data");
        if (job.Data.EvalFraction > 0)
            throw new JobConfigException($"job '{job.Name}': data.eval_fraction is not supported for E2E jobs; set data.eval to the dev CSV (devset.csv)");
        var configPath = Path.Combine(job.Model, "config.json");
        var config = Gpt2Config.Load(configPath);
        int eos = tokenizer.EosId ?? config.EosTokenId
            ?? throw new JobConfigException($"job '{job.Name}': {configPath} has no eos_token_id and the tokenizer no end-of-text token");
        var encoder = new E2eSequenceEncoder(tokenizer, eos);
        int maxLength = Math.Min(job.Data.SourceMaxLen + job.Data.TargetMaxLen, config.MaxPositions);

        int truncated = 0, dropped = 0;
        List<TokenizedExample> Encode(IReadOnlyList<E2eTrainingPair> pairs)
        {
            var result = new List<TokenizedExample>(pairs.Count);
            foreach (var pair in pairs)
            {
                var (ids, queryLength) = encoder.Encode(pair, int.MaxValue);
                if (ids.Length > maxLength)
                {
                    truncated++;
                    (ids, queryLength) = encoder.Encode(pair, maxLength);
                }
                if (ids.Length <= queryLength) { dropped++; continue; } // the cut left no completion token: no loss
                result.Add(new TokenizedExample(ids, LabelsOf(ids, queryLength)));
            }
            return result;
        }

        var train = Encode(E2eReader.ReadTrainingPairs(job.Data.Train));
        if (train.Count == 0)
            throw new DatasetException($"{job.Data.Train}: no E2E training pairs with a completion token (data.source_max_len + data.target_max_len = {maxLength} tokens)");
        IReadOnlyList<E2eTrainingPair> evalPairs = job.Data.Eval is null ? [] : E2eReader.ReadTrainingPairs(job.Data.Eval);
        if (job.Data.EvalMaxExamples > 0 && evalPairs.Count > job.Data.EvalMaxExamples) evalPairs = evalPairs.Take(job.Data.EvalMaxExamples).ToList();
        var eval = Encode(evalPairs);
        var report = new DataReport(Format, train.Count, eval.Count, 0, 0, [], truncated, dropped,
            train.Sum(e => (long)e.Length), train.Sum(e => (long)e.TargetTokens));
        return new TrainingData(train, eval, report);
    }

    /// <summary>
    /// Unshifted labels of an encoded pair: ids[j] for j >= the query length (the completion, EOS included), -100 before.
    /// With the pipeline's shift (logits at i predict label i + 1) the loss runs from the query's last token on, as the repo's.
    /// </summary>
    public static int[] LabelsOf(int[] ids, int queryLength)
    {
        var labels = new int[ids.Length];
        for (int j = 0; j < ids.Length; j++) labels[j] = j >= queryLength ? ids[j] : TokenizedExample.IgnoreIndex;
        return labels;
    }
}
