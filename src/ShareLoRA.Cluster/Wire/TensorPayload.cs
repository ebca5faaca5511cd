using MessagePack;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// A tensor on the wire: shape, element type ("f32" or "bf16") and the raw little-endian bytes of a contiguous
/// row-major tensor. Used inside Akka messages and by the data plane. The payload owns its byte array: do not
/// change it after handing the payload to a transport.
/// </summary>
[MessagePackObject]
public sealed record TensorPayload(
    [property: Key(0)] long[] Shape,
    [property: Key(1)] string DType,
    [property: Key(2)] byte[] Bytes)
{
    public const string F32 = "f32";
    public const string Bf16 = "bf16";

    /// <summary>Number of elements the shape describes.</summary>
    [IgnoreMember]
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    /// <summary>Bytes per element of <see cref="DType"/>.</summary>
    public static int ElementSize(string dtype) => dtype switch
    {
        F32 => 4,
        Bf16 => 2,
        _ => throw new InvalidDataException($"tensor payload: dtype must be \"{F32}\" or \"{Bf16}\" (got \"{dtype}\")"),
    };

    /// <summary>The wire name of a <see cref="WireDType"/>.</summary>
    public static string NameOf(WireDType dtype) => dtype == WireDType.Bf16 ? Bf16 : F32;

    /// <summary>Throws a one-line <see cref="InvalidDataException"/> when the bytes do not match shape and dtype.</summary>
    public void Validate()
    {
        if (Shape.Any(d => d < 0))
            throw new InvalidDataException($"tensor payload: shape [{string.Join(", ", Shape)}] has a negative dimension");
        var expected = ElementCount * ElementSize(DType);
        if (Bytes.LongLength != expected)
            throw new InvalidDataException(
                $"tensor payload: shape [{string.Join(", ", Shape)}] {DType} needs {expected} bytes (got {Bytes.LongLength})");
    }

    /// <summary>
    /// Copies a tensor (any device; float32, bfloat16 or float16) into a payload, converting to the wire dtype:
    /// fp32 tensors become bf16 when <paramref name="wire"/> is <see cref="WireDType.Bf16"/> (round to nearest even).
    /// </summary>
    public static TensorPayload FromTensor(Tensor tensor, WireDType wire = WireDType.F32)
    {
        var target = wire == WireDType.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        if (!tensor.is_floating_point())
            throw new ArgumentException($"tensor payload: only floating-point tensors go on the wire (got {tensor.dtype})");
        using var scope = NewDisposeScope();
        // detach: no autograd history; cpu + contiguous: .bytes needs a dense CPU buffer.
        var wireTensor = tensor.detach().to(target, CPU).contiguous();
        var bytes = wireTensor.bytes.ToArray();
        return new TensorPayload(tensor.shape.ToArray(), NameOf(wire), bytes);
    }

    /// <summary>
    /// Builds a CPU tensor from the payload: an empty tensor of the wire dtype whose byte span is filled in one copy
    /// (torch.frombuffer would convert each byte to a number), then converted to <paramref name="dtype"/>.
    /// </summary>
    public Tensor ToTensor(ScalarType dtype = ScalarType.Float32)
    {
        Validate();
        var wireType = DType == Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var tensor = empty(Shape, wireType, CPU);
        tensor.bytes = Bytes;
        if (wireType == dtype) return tensor;
        using (tensor) return tensor.to_type(dtype);
    }
}
