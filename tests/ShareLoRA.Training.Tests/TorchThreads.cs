using System.Runtime.CompilerServices;

namespace ShareLoRA.Training.Tests;

/// <summary>
/// Runs this test assembly's tensor work on one intra-op thread. The test models are tiny, and on the shared 2-core
/// machines libtorch's OpenMP workers spin-wait for each other while other processes hold the cores: measured here,
/// the 200-micro-batch leak test took 2 minutes with the default 2 threads and 6 s with one.
/// </summary>
internal static class TorchThreads
{
    [ModuleInitializer]
    internal static void UseOneThread() => TorchSharp.torch.set_num_threads(1);
}
