namespace ShareLoRA.Training.Demo;

/// <summary>Where <see cref="DemoAssets.Write"/> put each asset (absolute paths).</summary>
public sealed record DemoAssetPaths(string ModelDirectory, string TrainFile, string EvalFile, string JobFile, int VocabSize);
