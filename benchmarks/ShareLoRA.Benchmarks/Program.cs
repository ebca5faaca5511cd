namespace ShareLoRA.Benchmarks;

/// <summary>Entry point: one mode per benchmark, chosen by the first argument.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var mode = args.Length > 0 ? args[0] : "";
        var rest = args.Skip(1).ToArray();
        switch (mode)
        {
            case TrainThroughputBenchmark.Mode: return TrainThroughputBenchmark.Run(rest);
            case TrainThroughputBenchmark.ChildMode: return TrainThroughputBenchmark.RunOne(rest);
            default:
                Console.Error.WriteLine("usage: ShareLoRA.Benchmarks train [--job FILE] [--steps N] [--stages P] [--threads T] [--set key=value ...]");
                Console.Error.WriteLine("  train: tokens/s and peak working set of lora, share-a, share-b and share-ab on the same job (each in its own process)");
                return 2;
        }
    }
}
