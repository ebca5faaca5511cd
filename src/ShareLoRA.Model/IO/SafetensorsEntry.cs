using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>One tensor's header entry in a safetensors file; offsets are absolute positions in the file.</summary>
public sealed record SafetensorsEntry(string Name, string DType, ScalarType ScalarType, long[] Shape, long Begin, long End)
{
    public long ByteCount => End - Begin;
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
