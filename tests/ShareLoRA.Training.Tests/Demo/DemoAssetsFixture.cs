using ShareLoRA.Training.Demo;

using Xunit;

namespace ShareLoRA.Training.Tests.Demo;

/// <summary>One set of demo assets (default sizes, seed 7) shared by the tests of a class; deleted afterwards.</summary>
public sealed class DemoAssetsFixture : IDisposable
{
    private readonly TempFolder _folder = new();

    public DemoAssetsFixture() => Paths = DemoAssets.Write(new DemoAssetsOptions(System.IO.Path.Combine(_folder.Path, "assets"), Seed: 7));

    public DemoAssetPaths Paths { get; }

    public string Root => _folder.Path;

    public void Dispose() => _folder.Dispose();
}
