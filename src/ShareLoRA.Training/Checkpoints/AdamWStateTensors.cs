using ShareLoRA.Model.Adapters;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// AdamW state as named tensors for a checkpoint file: "{name}.exp_avg", "{name}.exp_avg_sq" and "{name}.step" (an int64
/// scalar) per parameter, so the whole state loads by tensor name like the adapter file.
/// </summary>
public static class AdamWStateTensors
{
    public const string ExpAvgSuffix = ".exp_avg";
    public const string ExpAvgSqSuffix = ".exp_avg_sq";
    public const string StepSuffix = ".step";

    /// <summary>
    /// The state as named tensors. Every returned tensor is a new handle the caller disposes: the moments are detached
    /// views of the state's tensors (no copy; disposing them leaves the state intact), the steps are new scalars.
    /// </summary>
    public static Dictionary<string, Tensor> ToTensors(IReadOnlyDictionary<string, AdamWParameterState> state)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, st) in state)
        {
            result[name + ExpAvgSuffix] = st.ExpAvg.detach();
            result[name + ExpAvgSqSuffix] = st.ExpAvgSq.detach();
            result[name + StepSuffix] = tensor(st.Step);
        }
        return result;
    }

    /// <summary>
    /// The state back from named tensors. The returned states hold new handles the caller disposes (views of the given
    /// tensors, no copy); the given tensors stay the caller's. <paramref name="source"/> prefixes error messages.
    /// </summary>
    /// <exception cref="InvalidDataException">A moment or step missing, a step that is not an int64 scalar, or a stray tensor.</exception>
    public static Dictionary<string, AdamWParameterState> FromTensors(IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var result = new Dictionary<string, AdamWParameterState>();
        var used = 0;
        try
        {
            foreach (var (key, stepTensor) in tensors)
            {
                if (!key.EndsWith(StepSuffix, StringComparison.Ordinal)) continue;
                var name = key[..^StepSuffix.Length];
                if (stepTensor.dtype != ScalarType.Int64 || stepTensor.NumberOfElements != 1)
                    throw new InvalidDataException($"{source}: tensor '{key}' must be an int64 scalar (got {stepTensor.dtype} [{string.Join(", ", stepTensor.shape)}])");
                if (!tensors.TryGetValue(name + ExpAvgSuffix, out var m) || !tensors.TryGetValue(name + ExpAvgSqSuffix, out var v))
                    throw new InvalidDataException($"{source}: moments of '{name}' missing (expected '{name}{ExpAvgSuffix}' and '{name}{ExpAvgSqSuffix}')");
                result[name] = new AdamWParameterState(stepTensor.item<long>(), m.detach(), v.detach());
                used += 3;
            }
            if (used != tensors.Count)
            {
                var stray = tensors.Keys.First(k => !result.ContainsKey(StateName(k)));
                throw new InvalidDataException($"{source}: tensor '{stray}' is not part of an AdamW state (no matching '{StateName(stray)}{StepSuffix}')");
            }
            return result;
        }
        catch
        {
            foreach (var st in result.Values) st.Dispose();
            throw;
        }
    }

    private static string StateName(string key) =>
        key.EndsWith(ExpAvgSqSuffix, StringComparison.Ordinal) ? key[..^ExpAvgSqSuffix.Length]
        : key.EndsWith(ExpAvgSuffix, StringComparison.Ordinal) ? key[..^ExpAvgSuffix.Length]
        : key.EndsWith(StepSuffix, StringComparison.Ordinal) ? key[..^StepSuffix.Length]
        : key;
}
