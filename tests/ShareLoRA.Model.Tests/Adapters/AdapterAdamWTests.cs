using ShareLoRA.Model.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

public class AdapterAdamWTests
{
    private static readonly long[][] Shapes = [[4, 8], [16, 4], [3]];

    private static List<Tensor> RandomTensors(long seed, double scale = 1.0)
    {
        using var g = new Generator((ulong)seed, CPU);
        return Shapes.Select(s => randn(s, ScalarType.Float32, CPU, false, g).mul_(scale)).ToList();
    }

    /// <summary>Gives each parameter exactly <paramref name="grads"/> as its .grad through autograd (loss = sum(p * g)).</summary>
    private static void SetGrads(IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> grads)
    {
        using var scope = NewDisposeScope();
        var loss = parameters.Zip(grads, (p, g) => p.mul(g).sum()).Aggregate((a, b) => a + b);
        loss.backward();
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    [Fact]
    public void MatchesTorchSharpAdamWStepForStep()
    {
        var settings = new AdamWSettings(LearningRate: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.05);
        var start = RandomTensors(1);
        var mine = start.Select(t => t.clone().requires_grad_(true)).ToList();
        var theirs = start.Select(t => new Parameter(t.clone(), requires_grad: true)).ToList();
        using var opt = new AdapterAdamW(mine.Select((t, i) => ($"p{i}", t)), settings);
        using var reference = optim.AdamW(theirs, lr: settings.LearningRate, beta1: settings.Beta1, beta2: settings.Beta2,
            eps: settings.Eps, weight_decay: settings.WeightDecay);

        for (int step = 0; step < 20; step++)
        {
            var grads = RandomTensors(100 + step, scale: step % 3 + 0.1);
            opt.ZeroGrad();
            reference.zero_grad();
            SetGrads(mine, grads);
            SetGrads(theirs.Cast<Tensor>().ToList(), grads);
            opt.Step();
            reference.step();
            for (int i = 0; i < mine.Count; i++)
                Assert.True(MaxAbsDiff(mine[i], theirs[i]) <= 1e-6, $"step {step + 1}, p{i}: differs from torch.optim.AdamW by {MaxAbsDiff(mine[i], theirs[i])}");
            foreach (var g in grads) g.Dispose();
        }
    }

    [Fact]
    public void ExplicitGradientsAndDisjointSubsetsGiveTheSameUpdateAsOneOptimizerOverAll()
    {
        var settings = new AdamWSettings(1e-3, WeightDecay: 0.01);
        var start = RandomTensors(2);
        var all = start.Select(t => t.clone().requires_grad_(true)).ToList();
        var split = start.Select(t => t.clone().requires_grad_(true)).ToList();
        using var whole = new AdapterAdamW(all.Select((t, i) => ($"p{i}", t)), settings);
        // As in the pipeline: the coordinator steps the "shared" p0 from reduced gradients, a stage steps the rest.
        using var coordinator = new AdapterAdamW([("p0", split[0])], settings);
        using var stage = new AdapterAdamW(split.Skip(1).Select((t, i) => ($"p{i + 1}", t)), settings);
        for (int step = 0; step < 5; step++)
        {
            var grads = RandomTensors(200 + step);
            whole.ZeroGrad();
            SetGrads(all, grads);
            whole.Step();
            coordinator.Step(new Dictionary<string, Tensor> { ["p0"] = grads[0] });
            stage.ZeroGrad();
            SetGrads(split.Skip(1).ToList(), grads.Skip(1).ToList());
            stage.Step();
            for (int i = 0; i < all.Count; i++) Assert.True(eq(all[i], split[i]).all().item<bool>(), $"step {step + 1}, p{i}");
        }
    }

    [Fact]
    public void ParametersWithoutAGradientAreSkippedAsTorchDoes()
    {
        using var withGrad = ones(3).requires_grad_(true);
        using var without = ones(3).requires_grad_(true);
        using var opt = new AdapterAdamW([("a", withGrad), ("b", without)], new AdamWSettings(0.1, WeightDecay: 0.5));
        using (var loss = withGrad.sum()) loss.backward();
        opt.Step();
        Assert.True(eq(without, 1f).all().item<bool>());
        Assert.False(eq(withGrad, 1f).all().item<bool>());
        var state = opt.ExportState();
        Assert.Equal(1, state["a"].Step);
        Assert.Equal(0, state["b"].Step);
        foreach (var st in state.Values) st.Dispose();
    }

    [Fact]
    public void RejectsATensorListedTwice()
    {
        using var t = zeros(2).requires_grad_(true);
        Assert.Throws<ArgumentException>(() => new AdapterAdamW([("a", t), ("b", t)], new AdamWSettings()));
    }

    [Fact]
    public void BankParametersAreEachSteppedOnce()
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout("share-ab"), 1);
        using var opt = new AdapterAdamW(bank.Parameters, new AdamWSettings());
        Assert.Equal(bank.Parameters.Count, opt.Names.Count);
    }

    [Theory]
    [InlineData(0.3)]   // clips
    [InlineData(1e6)]   // does not clip (coefficient 1)
    public void ClipCoefficientMatchesClipGradNorm(double maxNorm)
    {
        var start = RandomTensors(3);
        var grads = RandomTensors(4, scale: 2.0);
        var mine = start.Select(t => t.clone().requires_grad_(true)).ToList();
        var theirs = start.Select(t => new Parameter(t.clone(), requires_grad: true)).ToList();
        SetGrads(mine, grads);
        SetGrads(theirs.Cast<Tensor>().ToList(), grads);

        var myGrads = mine.Select(t => t.grad!).ToList();
        // Split as the coordinator sees it: partial squared norms summed.
        double normSquared = GradientClipping.GlobalGradNormSquared(myGrads.Take(1)) + GradientClipping.GlobalGradNormSquared(myGrads.Skip(1));
        Assert.Equal(GradientClipping.GlobalGradNormSquared(myGrads), normSquared, 1e-9);
        double coefficient = GradientClipping.ClipCoefficient(normSquared, maxNorm);
        GradientClipping.Scale(myGrads, coefficient);
        double totalNorm = nn.utils.clip_grad_norm_(theirs, maxNorm);

        Assert.True(Math.Abs(Math.Sqrt(normSquared) - totalNorm) <= 1e-6 * totalNorm, $"norm {Math.Sqrt(normSquared)} vs torch {totalNorm}");
        Assert.Equal(maxNorm >= totalNorm ? 1.0 : maxNorm / (totalNorm + 1e-6), coefficient, 1e-6);
        for (int i = 0; i < mine.Count; i++)
        {
            using var theirGrad = theirs[i].grad!;
            Assert.True(MaxAbsDiff(myGrads[i], theirGrad) <= 1e-6, $"clipped grad p{i} differs by {MaxAbsDiff(myGrads[i], theirGrad)}");
        }
    }

    [Fact]
    public void StateRoundTripsThroughExportImportAndAFileAndContinuesIdentically()
    {
        var settings = new AdamWSettings(1e-2, WeightDecay: 0.1);
        var start = RandomTensors(5);
        var a = start.Select(t => t.clone().requires_grad_(true)).ToList();
        using var optA = new AdapterAdamW(a.Select((t, i) => ($"layers.{i}.q.A", t)), settings);
        for (int s = 0; s < 3; s++)
        {
            optA.ZeroGrad();
            SetGrads(a, RandomTensors(300 + s));
            optA.Step();
        }
        var b = a.Select(t => t.detach().clone().requires_grad_(true)).ToList();
        using var optB = new AdapterAdamW(b.Select((t, i) => ($"layers.{i}.q.A", t)), settings);
        var path = Path.Combine(Path.GetTempPath(), $"adamw-{Guid.NewGuid():N}.safetensors");
        try
        {
            var exported = optA.ExportState();
            Assert.All(exported.Values, st => Assert.Equal(3, st.Step));
            AdapterAdamW.SaveState(path, exported);
            var loaded = AdapterAdamW.LoadState(path);
            optB.ImportState(loaded);
            foreach (var (name, st) in exported)
            {
                Assert.Equal(st.Step, loaded[name].Step);
                Assert.True(eq(st.ExpAvg, loaded[name].ExpAvg).all().item<bool>());
                Assert.True(eq(st.ExpAvgSq, loaded[name].ExpAvgSq).all().item<bool>());
            }
            foreach (var st in exported.Values.Concat(loaded.Values)) st.Dispose();
        }
        finally { File.Delete(path); }

        for (int s = 0; s < 3; s++)
        {
            var grads = RandomTensors(400 + s);
            optA.ZeroGrad(); optB.ZeroGrad();
            SetGrads(a, grads); SetGrads(b, grads);
            optA.Step(); optB.Step();
        }
        for (int i = 0; i < a.Count; i++) Assert.True(eq(a[i], b[i]).all().item<bool>(), $"p{i} diverged after import");
    }

    [Fact]
    public void ImportRejectsMissingOrMisshapenState()
    {
        using var t = zeros(2, 3).requires_grad_(true);
        using var opt = new AdapterAdamW([("x", t)], new AdamWSettings());
        var e = Assert.Throws<ArgumentException>(() => opt.ImportState(new Dictionary<string, AdamWParameterState>()));
        Assert.Contains("'x'", e.Message);
        using var bad = new AdamWParameterState(1, zeros(3, 2), zeros(3, 2));
        e = Assert.Throws<ArgumentException>(() => opt.ImportState(new Dictionary<string, AdamWParameterState> { ["x"] = bad }));
        Assert.Contains("[2, 3]", e.Message);
    }
}
