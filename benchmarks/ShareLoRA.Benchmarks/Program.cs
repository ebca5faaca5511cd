namespace ShareLoRA.Benchmarks;

/// <summary>Entry point: one mode per benchmark, chosen by the first argument.</summary>
public static class Program
{
    private const string Usage =
        "usage: ShareLoRA.Benchmarks model [--threads N] [--tiny-only]\n" +
        "       ShareLoRA.Benchmarks train [--job FILE] [--steps N] [--stages P] [--threads T] [--set key=value ...]\n" +
        "       ShareLoRA.Benchmarks pipeline [...]\n" +
        "       ShareLoRA.Benchmarks checkpoint\n" +
        "  model: forward tokens/s at 8 x 256 and generation tokens/s, tiny model and a ~100M random config\n" +
        "  train: tokens/s and peak working set of lora, share-a, share-b and share-ab on the same job (each in its own process)\n" +
        "  pipeline: tokens/s of the single-process trainer against 2 and 3 worker processes\n" +
        "  checkpoint: checkpoint save and resume milliseconds, tiny random model and stories260K (local trainer, P = 1 and 2)";

    public static int Main(string[] args)
    {
        var mode = args.Length > 0 ? args[0] : "";
        var rest = args.Skip(1).ToArray();
        switch (mode)
        {
            case "model": ModelBenchmark.Run(rest); return 0;
            case "pipeline": PipelineBenchmark.Run(rest); return 0;
            case TrainThroughputBenchmark.Mode: return TrainThroughputBenchmark.Run(rest);
            case CheckpointBenchmark.Mode: return CheckpointBenchmark.Run(rest);
            case TrainThroughputBenchmark.ChildMode: return TrainThroughputBenchmark.RunOne(rest);
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }
}
