using ShareLoRA.Model.IO;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>Reads adapter-sized safetensors files (native adapter, PEFT weights, optimizer state) whole, through the model's IO.</summary>
internal static class AdapterTensorFile
{
    /// <summary>
    /// Every tensor (stored dtype, CPU, header order) and the metadata. Adapter tensors are floating point; any other
    /// dtype is refused by name before anything is read. The caller owns the tensors.
    /// </summary>
    public static (Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var e in file.Entries.Values)
            if (e.ScalarType is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16 or ScalarType.Float16))
                throw new InvalidDataException($"{path}: tensor '{e.Name}' has dtype {e.DType}; expected F32, F64, BF16 or F16");
        return (file.ReadAll(), file.Metadata);
    }
}
