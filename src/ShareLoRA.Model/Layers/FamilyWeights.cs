using System.Text;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Layers;

/// <summary>Weight sources shared by the GPT-2 and RoBERTa families: checkpoint reads with a prefix fallback, and seeded random weights.</summary>
internal static class FamilyWeights
{
    /// <summary>
    /// Reads tensors from <paramref name="checkpoint"/> under their full name, or without <paramref name="prefix"/>
    /// (checkpoints saved from the bare base model). A missing tensor names the directory's files and both spellings.
    /// </summary>
    public static WeightSource FromCheckpoint(HfCheckpoint checkpoint, string prefix, ScalarType dtype, Device device) =>
        (name, shape) => checkpoint.Read(Resolve(checkpoint, name, prefix), dtype, device, shape);

    public static string Resolve(HfCheckpoint checkpoint, string name, string prefix)
    {
        if (checkpoint.Contains(name)) return name;
        if (name.StartsWith(prefix, StringComparison.Ordinal) && checkpoint.Contains(name[prefix.Length..])) return name[prefix.Length..];
        var alternative = name.StartsWith(prefix, StringComparison.Ordinal) ? $" (nor '{name[prefix.Length..]}')" : "";
        throw new InvalidDataException($"{Files(checkpoint.Directory)}: tensor '{name}'{alternative} not found");
    }

    public static bool Contains(HfCheckpoint checkpoint, string name, string prefix) =>
        checkpoint.Contains(name) || (name.StartsWith(prefix, StringComparison.Ordinal) && checkpoint.Contains(name[prefix.Length..]));

    private static string Files(string dir)
    {
        var single = Path.Combine(dir, "model.safetensors");
        return File.Exists(single) ? single : Path.Combine(dir, "model.safetensors.index.json");
    }

    /// <summary>
    /// Small random weights whose values depend only on the seed and the tensor's name (so a layer range equals that
    /// slice of the whole model): normal with std <paramref name="initStd"/>, LayerNorm weights 1 + 0.1 N(0, 1),
    /// LayerNorm biases 0.1 N(0, 1).
    /// </summary>
    public static WeightSource Random(long seed, ScalarType dtype, Device device, double initStd, Func<string, bool> isNorm) =>
        (name, shape) =>
        {
            using var generator = new Generator(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ Fnv1a(name)), torch.CPU);
            using var noise = randn(shape, ScalarType.Float32, torch.CPU, requires_grad: false, generator: generator);
            using var values = !isNorm(name) ? noise.MulScalar(initStd)
                : name.EndsWith(".weight", StringComparison.Ordinal) ? noise.MulScalar(0.1).AddScalar(1.0) : noise.MulScalar(0.1);
            return values.to(dtype, device, copy: true);
        };

    private static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(s)) { h ^= b; h *= 1099511628211UL; }
        return h;
    }

    public static void CheckDType(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
            throw new ArgumentException($"model dtype must be floating point (got {dtype})");
    }

    public static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float64 => "float64",
        _ => t.ToString().ToLowerInvariant(),
    };
}
