using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Pipeline;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Pipeline;

public sealed class SharedParameterServerTests
{
    [Theory]
    [InlineData(0.5)]   // clips
    [InlineData(100.0)] // does not clip
    [InlineData(0.0)]   // clipping off
    public void StepSumsPartialsClipsByTheGlobalNormAndStepsLikeAdamW(double maxNorm)
    {
        using var scope = NewDisposeScope();
        var settings = new AdamWSettings(LearningRate: 1e-2, WeightDecay: 0.01);
        var a = randn(3, 4);
        var b = randn(5, 2);
        using var server = new SharedParameterServer([("shared.q.A", a), ("shared.q.B", b)], settings);
        var stage0 = new Dictionary<string, Tensor> { ["shared.q.A"] = randn(3, 4), ["shared.q.B"] = randn(5, 2) };
        var stage1 = new Dictionary<string, Tensor> { ["shared.q.A"] = randn(3, 4), ["shared.q.B"] = randn(5, 2) };
        double[] local = [0.7, 1.3];

        using var result = server.Step([stage0, stage1], local, 0.05, maxNorm);

        var sumA = stage0["shared.q.A"] + stage1["shared.q.A"];
        var sumB = stage0["shared.q.B"] + stage1["shared.q.B"];
        double normSquared = GradientClipping.GlobalGradNormSquared([sumA, sumB]) + local.Sum();
        double expectedCoefficient = maxNorm > 0 ? Math.Min(1, maxNorm / (Math.Sqrt(normSquared) + 1e-6)) : 1;
        Assert.Equal(Math.Sqrt(normSquared), result.GradNorm, 9);
        Assert.Equal(expectedCoefficient, result.ClipCoefficient, 12);

        // The same update by hand with the optimizer the stages use.
        var refA = a.clone();
        var refB = b.clone();
        using var reference = new AdapterAdamW([("shared.q.A", refA), ("shared.q.B", refB)], settings);
        reference.Step(new Dictionary<string, Tensor> { ["shared.q.A"] = sumA * expectedCoefficient, ["shared.q.B"] = sumB * expectedCoefficient }, 0.05);
        Assert.True(allclose(refA, result.Values["shared.q.A"], 1e-6, 1e-7));
        Assert.True(allclose(refB, result.Values["shared.q.B"], 1e-6, 1e-7));
        // The server keeps its own masters: the caller's initial tensors are untouched.
        Assert.False(allclose(a, result.Values["shared.q.A"]));
    }

    [Fact]
    public void AStageWithoutAGradientForASharedTensorIsRejected()
    {
        using var scope = NewDisposeScope();
        using var server = new SharedParameterServer([("shared.q.A", randn(2, 2))], new AdamWSettings());
        var ex = Assert.Throws<ArgumentException>(() => server.Step([new Dictionary<string, Tensor>()], [0.0], 1e-3, 1));
        Assert.Contains("stage 0 sent no gradient for 'shared.q.A'", ex.Message);
    }
}
