using ShareLoRA.Benchmarks;

// Each benchmark prints its own figures; pick them by name on the command line.
var benchmarks = new Dictionary<string, Action<string[]>>(StringComparer.OrdinalIgnoreCase)
{
    ["model"] = ModelBenchmark.Run,
    ["pipeline"] = PipelineBenchmark.Run,
};
if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: ShareLoRA.Benchmarks <{string.Join("|", benchmarks.Keys)}>");
    return 2;
}
run(args[1..]);
return 0;
