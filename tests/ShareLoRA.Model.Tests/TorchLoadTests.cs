using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests;

/// <summary>Guards the Debian 12 libstdc++ fix in Directory.Build.targets: libtorch must load.</summary>
public class TorchLoadTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var t = ones(2, 3);
        using var s = t.sum();
        Assert.Equal(6f, s.item<float>());
    }
}
