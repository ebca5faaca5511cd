namespace ShareLoRA.Training.Demo;

/// <summary>What `sharelora init-demo` generates.</summary>
/// <param name="OutputDirectory">Folder that receives model/, data/ and demo-job.json.</param>
/// <param name="Seed">Seed of the data, the tokenizer's merges (learned on that data) and the model's random weights.</param>
/// <param name="TrainExamples">Training records in data/train.jsonl.</param>
/// <param name="EvalExamples">Evaluation records in data/eval.jsonl (drawn after the training records).</param>
/// <param name="Merges">BPE merges the tokenizer learns over the training prompts (0 = bytes and ASCII characters only).</param>
/// <param name="Force">Overwrite assets already in the folder.</param>
public sealed record DemoAssetsOptions(
    string OutputDirectory,
    long Seed = DemoAssetsOptions.DefaultSeed,
    int TrainExamples = DemoAssetsOptions.DefaultTrainExamples,
    int EvalExamples = DemoAssetsOptions.DefaultEvalExamples,
    int Merges = DemoAssetsOptions.DefaultMerges,
    bool Force = false)
{
    public const long DefaultSeed = 1;
    public const int DefaultTrainExamples = 2000;
    public const int DefaultEvalExamples = 200;
    public const int DefaultMerges = 256;
}
