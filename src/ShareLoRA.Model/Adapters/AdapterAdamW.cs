using System.Globalization;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// AdamW over an arbitrary named set of tensors, with torch.optim.AdamW's arithmetic (single-tensor path):
/// p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
/// Written here rather than taken from TorchSharp so the state can be exported and imported by name: a pipeline
/// stage steps its per-layer tensors while the coordinator steps the shared ones, with the same math, and both
/// checkpoint their moments. A tensor listed twice is rejected (a shared matrix is one parameter).
/// </summary>
public sealed class AdapterAdamW : IDisposable
{
    private readonly List<(string Name, Tensor Value)> _parameters;
    private readonly Dictionary<string, (long Step, Tensor? ExpAvg, Tensor? ExpAvgSq)> _state = [];

    public AdamWSettings Settings { get; }

    public IReadOnlyList<string> Names => _parameters.Select(p => p.Name).ToList();

    public AdapterAdamW(IEnumerable<(string Name, Tensor Value)> parameters, AdamWSettings settings)
    {
        settings.Validate();
        Settings = settings;
        _parameters = parameters.ToList();
        var names = new HashSet<string>();
        var handles = new HashSet<IntPtr>();
        foreach (var (name, value) in _parameters)
        {
            if (!names.Add(name)) throw new ArgumentException($"adamw: parameter '{name}' listed twice");
            if (!handles.Add(value.Handle)) throw new ArgumentException($"adamw: tensor of '{name}' is already listed under another name");
            _state[name] = (0, null, null);
        }
    }

    /// <summary>All of a bank's parameters (each shared tensor once, as the bank enumerates them).</summary>
    public AdapterAdamW(IEnumerable<AdapterParameter> parameters, AdamWSettings settings)
        : this(parameters.Select(p => (p.Name, p.Value)), settings) { }

    /// <summary>
    /// One update from each parameter's .grad (parameters without a gradient are skipped, as torch does).
    /// <paramref name="learningRate"/> overrides the configured one for this step (LR schedules).
    /// </summary>
    public void Step(double? learningRate = null)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in _parameters)
        {
            using var grad = value.grad;
            if (grad is null) continue;
            Update(name, value, grad, learningRate ?? Settings.LearningRate);
        }
    }

    /// <summary>
    /// One update from explicit gradients by name (e.g. shared-matrix gradients reduced across stages); parameters
    /// without an entry are skipped.
    /// </summary>
    public void Step(IReadOnlyDictionary<string, Tensor> gradients, double? learningRate = null)
    {
        foreach (var name in gradients.Keys)
            if (!_state.ContainsKey(name)) throw new ArgumentException($"adamw: gradient for unknown parameter '{name}'");
        using var noGrad = no_grad();
        foreach (var (name, value) in _parameters)
            if (gradients.TryGetValue(name, out var grad))
            {
                if (!grad.shape.SequenceEqual(value.shape))
                    throw new ArgumentException($"adamw: gradient of '{name}' must be [{string.Join(", ", value.shape)}] (got [{string.Join(", ", grad.shape)}])");
                Update(name, value, grad, learningRate ?? Settings.LearningRate);
            }
    }

    private void Update(string name, Tensor p, Tensor gradIn, double lr)
    {
        using var scope = NewDisposeScope();
        var s = Settings;
        var (step, m, v) = _state[name];
        m ??= zeros_like(p).DetachFromDisposeScope();
        v ??= zeros_like(p).DetachFromDisposeScope();
        step += 1;
        var grad = gradIn.dtype == p.dtype && gradIn.device == p.device ? gradIn : gradIn.to(p.dtype, p.device);

        var biasCorrection1 = 1 - Math.Pow(s.Beta1, step);
        var biasCorrection2 = 1 - Math.Pow(s.Beta2, step);
        // Explicit Scalars kept alive until the native calls return (see AdapterDropout.KeepMask).
        using Scalar decay = (1 - lr * s.WeightDecay).ToScalar(), beta1 = s.Beta1.ToScalar(), oneMinusBeta1 = (1 - s.Beta1).ToScalar(),
            beta2 = s.Beta2.ToScalar(), oneMinusBeta2 = (1 - s.Beta2).ToScalar(), sqrtBc2 = Math.Sqrt(biasCorrection2).ToScalar(),
            eps = s.Eps.ToScalar(), stepSize = (-(lr / biasCorrection1)).ToScalar();
        p.mul_(decay);
        m.mul_(beta1).add_(grad, alpha: oneMinusBeta1);
        v.mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
        var denom = v.sqrt().div_(sqrtBc2).AddScalar_(eps);
        p.addcdiv_(m, denom, value: stepSize);
        _state[name] = (step, m, v);
    }

    /// <summary>Sets every parameter's gradient to zero in place (where one exists).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, value) in _parameters)
        {
            using var g = value.grad;
            g?.zero_();
        }
    }

    /// <summary>Copies of every parameter's state (zeros and step 0 for a parameter never stepped). Caller disposes.</summary>
    public IReadOnlyDictionary<string, AdamWParameterState> ExportState()
    {
        var result = new Dictionary<string, AdamWParameterState>();
        foreach (var (name, value) in _parameters)
        {
            var (step, m, v) = _state[name];
            result[name] = new AdamWParameterState(step,
                m is null ? zeros_like(value).detach() : m.clone(),
                v is null ? zeros_like(value).detach() : v.clone());
        }
        return result;
    }

    /// <summary>Replaces the state of every parameter with copies of the given one; names and shapes must match exactly.</summary>
    public void ImportState(IReadOnlyDictionary<string, AdamWParameterState> state, string source = "optimizer state")
    {
        foreach (var name in state.Keys)
            if (!_state.ContainsKey(name)) throw new ArgumentException($"{source}: state for unknown parameter '{name}'");
        foreach (var (name, value) in _parameters)
        {
            if (!state.TryGetValue(name, out var st)) throw new ArgumentException($"{source}: no state for parameter '{name}'");
            if (!st.ExpAvg.shape.SequenceEqual(value.shape) || !st.ExpAvgSq.shape.SequenceEqual(value.shape))
                throw new ArgumentException($"{source}: state of '{name}' must be [{string.Join(", ", value.shape)}] (got [{string.Join(", ", st.ExpAvg.shape)}])");
            if (st.Step < 0) throw new ArgumentException($"{source}: step of '{name}' must be >= 0 (got {st.Step})");
        }
        foreach (var (name, value) in _parameters)
        {
            var st = state[name];
            var (_, oldM, oldV) = _state[name];
            oldM?.Dispose();
            oldV?.Dispose();
            using var scope = NewDisposeScope();
            // Owned by the optimizer from here on, whatever dispose scope the caller runs in.
            _state[name] = (st.Step,
                st.ExpAvg.detach().to(value.dtype, value.device, copy: true).DetachFromDisposeScope(),
                st.ExpAvgSq.detach().to(value.dtype, value.device, copy: true).DetachFromDisposeScope());
        }
    }

    /// <summary>
    /// Writes a state as safetensors: "{name}.exp_avg", "{name}.exp_avg_sq", and each step count in the metadata
    /// under "{name}.step".
    /// </summary>
    public static void SaveState(string path, IReadOnlyDictionary<string, AdamWParameterState> state)
    {
        var tensors = new List<(string, Tensor)>();
        var metadata = new Dictionary<string, string> { ["format"] = "sharelora-adamw-state", ["version"] = "1" };
        foreach (var (name, st) in state)
        {
            tensors.Add(($"{name}.exp_avg", st.ExpAvg));
            tensors.Add(($"{name}.exp_avg_sq", st.ExpAvgSq));
            metadata[$"{name}.step"] = st.Step.ToString(CultureInfo.InvariantCulture);
        }
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>Reads a state written by <see cref="SaveState"/>. Caller disposes.</summary>
    public static IReadOnlyDictionary<string, AdamWParameterState> LoadState(string path)
    {
        var (tensors, metadata) = AdapterTensorFile.Read(path);
        var result = new Dictionary<string, AdamWParameterState>();
        foreach (var (key, text) in metadata)
        {
            if (!key.EndsWith(".step", StringComparison.Ordinal)) continue;
            var name = key[..^".step".Length];
            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var step))
                throw new InvalidDataException($"{path}: metadata '{key}' must be an integer (got '{text}')");
            if (!tensors.Remove($"{name}.exp_avg", out var m) || !tensors.Remove($"{name}.exp_avg_sq", out var v))
                throw new InvalidDataException($"{path}: moments of '{name}' missing (expected '{name}.exp_avg' and '{name}.exp_avg_sq')");
            result[name] = new AdamWParameterState(step, m, v);
        }
        if (tensors.Count > 0)
        {
            var stray = tensors.Keys.First();
            foreach (var t in tensors.Values) t.Dispose();
            throw new InvalidDataException($"{path}: tensor '{stray}' has no step in the metadata");
        }
        return result;
    }

    public void Dispose()
    {
        foreach (var (_, m, v) in _state.Values)
        {
            m?.Dispose();
            v?.Dispose();
        }
        _state.Clear();
    }
}
