using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>Gradients reach adapter parameters and a stage's input hidden state, never the frozen base weights.</summary>
public class GradientTests
{
    private sealed class TrainableQ(Parameter delta) : ILayerAdapter, IModelAdapters
    {
        public Tensor? Delta(TargetModule module, Tensor input) => module == TargetModule.Q ? linear(input, delta) : null;
        public ILayerAdapter? ForLayer(int layerIndex) => layerIndex == 1 ? this : null;
    }

    [Fact]
    public void GradientsFlowToAdaptersAndStageInputOnly()
    {
        var c = TinyConfigs.Gqa;
        using var stage = LlamaModel.CreateRandom(c, 2, new ModelLoadOptions(1, 3, IncludeEmbedding: false, IncludeHead: true), initStd: 0.3);
        using var delta = new Parameter(randn(c.NumAttentionHeads * c.HeadDim, c.HiddenSize) * 0.01);
        var adapters = new TrainableQ(delta);
        using var scope = NewDisposeScope();
        var hidden = randn(2, 5, c.HiddenSize).requires_grad_(true);
        var logits = stage.Logits(stage.ForwardLayers(hidden, adapters: adapters));
        var loss = cross_entropy(logits.view(-1, c.VocabSize), randint(0, c.VocabSize, [10]));
        loss.backward();
        Assert.NotNull(delta.grad);
        Assert.True(delta.grad!.abs().sum().item<float>() > 0);
        Assert.NotNull(hidden.grad);
        Assert.True(hidden.grad!.abs().sum().item<float>() > 0);
        Assert.All(stage.parameters(), p => Assert.Null(p.grad));
    }
}
