using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Determinism;
using ShareLoRA.Training.Jobs;

namespace ShareLoRA.Training.Data;

/// <summary>
/// The tokenized train and eval sets of a job, prepared once before training: read the files, hold out eval examples
/// when there is no eval file, tokenize, drop sequences without target tokens, and fail with a clear message when
/// nothing is left to train on. <see cref="Fingerprint"/> identifies the exact training sequences, so a checkpoint can
/// refuse to resume on different data.
/// </summary>
public sealed record TrainingData(IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Eval, DataReport Report)
{
    /// <summary>64-bit hash of every training sequence (ids and labels, in order).</summary>
    public ulong Fingerprint { get; } = FingerprintOf(Train);

    public static TrainingData Prepare(DataConfig config, ITextTokenizer tokenizer, long seed)
    {
        var trainFile = DatasetReader.Read(config.Train, config.Format, config.SkipBadLines);
        var evalFile = config.Eval is null ? null : DatasetReader.Read(config.Eval, config.Format, config.SkipBadLines);
        var skipped = trainFile.SkippedRecords + (evalFile?.SkippedRecords ?? 0);
        var problems = trainFile.Problems.Concat(evalFile?.Problems ?? []).ToList();
        if (trainFile.Examples.Count == 0)
            throw new DatasetException($"{config.Train}: no training examples ({WhyEmpty(trainFile)})");
        if (evalFile is { Examples.Count: 0 })
            throw new DatasetException($"{config.Eval}: no eval examples ({WhyEmpty(evalFile)})");

        var trainRaw = trainFile.Examples;
        var evalRaw = evalFile?.Examples ?? [];
        var heldOut = 0;
        if (evalFile is null && config.EvalFraction > 0)
        {
            (trainRaw, evalRaw) = HoldOut(trainRaw, config.EvalFraction, (ulong)seed, config.Train);
            heldOut = evalRaw.Count;
        }
        if (config.EvalMaxExamples > 0 && evalRaw.Count > config.EvalMaxExamples)
            evalRaw = evalRaw.Take(config.EvalMaxExamples).ToList();

        var tokenizerOfExamples = new ExampleTokenizer(tokenizer, config.SourceMaxLen, config.TargetMaxLen, config.TrainOnSource);
        var truncated = 0;
        var dropped = 0;
        List<TokenizedExample> Tokenize(IReadOnlyList<RawExample> raw)
        {
            var result = new List<TokenizedExample>(raw.Count);
            foreach (var example in raw)
            {
                var tokens = tokenizerOfExamples.Tokenize(example, out var cut);
                if (cut) truncated++;
                if (tokens.TargetTokens == 0) dropped++;
                else result.Add(tokens);
            }
            return result;
        }

        var train = Tokenize(trainRaw);
        var eval = Tokenize(evalRaw);
        if (train.Count == 0)
            throw new DatasetException(
                $"{config.Train}: every example lost its target tokens to truncation (data.target_max_len is {config.TargetMaxLen})");

        var report = new DataReport(trainFile.Format, train.Count, eval.Count, heldOut, skipped, problems, truncated, dropped,
            train.Sum(e => (long)e.Length), train.Sum(e => (long)e.TargetTokens));
        return new TrainingData(train, eval, report);
    }

    /// <summary>
    /// Splits off round(fraction x n) examples (at least 1) chosen by a permutation seeded from the run seed; both parts
    /// keep file order.
    /// </summary>
    public static (IReadOnlyList<RawExample> Train, IReadOnlyList<RawExample> Eval) HoldOut(
        IReadOnlyList<RawExample> examples, double fraction, ulong seed, string path)
    {
        var count = Math.Max(1, (int)Math.Round(fraction * examples.Count, MidpointRounding.AwayFromZero));
        if (count >= examples.Count)
            throw new DatasetException(
                $"{path}: data.eval_fraction {fraction} of {examples.Count} examples leaves nothing to train on");
        var order = Enumerable.Range(0, examples.Count).ToArray();
        var rng = new SplitMix64(DropoutSeed.Hash([HoldOutTag, seed]));
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var evalSet = order.Take(count).ToHashSet();
        var train = new List<RawExample>(examples.Count - count);
        var eval = new List<RawExample>(count);
        for (var i = 0; i < examples.Count; i++) (evalSet.Contains(i) ? eval : train).Add(examples[i]);
        return (train, eval);
    }

    // Purpose tags keep each counter-seeded stream apart from dropout, init and data order: "HOLDOUT1", "FINGERP1".
    private const ulong HoldOutTag = 0x484F4C444F555431UL;
    private const ulong FingerprintTag = 0x46494E4745525031UL;

    private static string WhyEmpty(DatasetFile file) => file.SkippedRecords > 0
        ? $"all {file.SkippedRecords} records were malformed and skipped; first: {file.Problems[0]}"
        : "the file holds no records";

    private static ulong FingerprintOf(IReadOnlyList<TokenizedExample> examples)
    {
        var h = DropoutSeed.Hash([FingerprintTag, (ulong)examples.Count]);
        foreach (var example in examples)
        {
            h = DropoutSeed.Hash([h, (ulong)example.Length]);
            foreach (var id in example.InputIds) h = DropoutSeed.Hash([h, (uint)id]);
            foreach (var label in example.Labels) h = DropoutSeed.Hash([h, (uint)label]);
            if (example.RowLabel is { } row) h = DropoutSeed.Hash([h, BitConverter.SingleToUInt32Bits(row)]);
        }
        return h;
    }
}
