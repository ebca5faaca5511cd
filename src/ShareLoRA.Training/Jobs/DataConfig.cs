namespace ShareLoRA.Training.Jobs;

/// <summary>The "data" section of a job file: where examples come from and how they become token sequences.</summary>
/// <param name="Train">Training file: Alpaca JSON array, Alpaca JSONL or {"text": ...} JSONL. Required.</param>
/// <param name="Eval">Evaluation file (same formats), or null: then <see cref="EvalFraction"/> of train is held out.</param>
/// <param name="Format">"auto" (default: decided from the first record's fields), "alpaca" or "text".</param>
/// <param name="SourceMaxLen">Max tokens of BOS + prompt (default 512, QLoRA/ShareLoRA).</param>
/// <param name="TargetMaxLen">Max tokens of output + EOS (default 512).</param>
/// <param name="TrainOnSource">Also put loss on the prompt tokens (default false: labels -100 there).</param>
/// <param name="EvalEvery">Evaluate every N optimizer steps; 0 (default) = never.</param>
/// <param name="EvalMaxExamples">Evaluate on the first N eval examples; 0 (default) = all.</param>
/// <param name="SkipBadLines">Skip (and count) malformed records instead of failing (default false).</param>
/// <param name="Shuffle">Shuffle the training order per epoch, deterministically from (seed, epoch) (default true).</param>
/// <param name="EvalFraction">Fraction of train held out for evaluation when there is no eval file (default 0, in [0, 1)).</param>
/// <param name="GroupByLength">Within each shuffled window of 50 micro-batches, order examples longest first so micro-batches
/// hold similar lengths and pad less (QLoRA's group_by_length; default false).</param>
public sealed record DataConfig(
    string Train,
    string? Eval,
    string Format,
    int SourceMaxLen,
    int TargetMaxLen,
    bool TrainOnSource,
    int EvalEvery,
    int EvalMaxExamples,
    bool SkipBadLines,
    bool Shuffle,
    double EvalFraction,
    bool GroupByLength)
{
    public const string DefaultFormat = "auto";
    public const int DefaultSourceMaxLen = 512;
    public const int DefaultTargetMaxLen = 512;
    public static readonly IReadOnlyList<string> Formats = ["auto", "alpaca", "text"];
}
