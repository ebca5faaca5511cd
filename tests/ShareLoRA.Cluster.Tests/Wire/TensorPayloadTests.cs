using ShareLoRA.Cluster.Wire;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.Wire;

public class TensorPayloadTests
{
    public static TheoryData<long[]> Shapes => new() { new long[] { 7 }, new long[] { 2, 3, 4 }, new long[] { 1, 1, 5, 9 }, new long[] { 0, 3 }, Array.Empty<long>() };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void F32RoundTripIsBitExact(long[] shape)
    {
        using var scope = NewDisposeScope();
        var original = randn(shape, generator: new Generator(1));
        var payload = TensorPayload.FromTensor(original, WireDType.F32);
        Assert.Equal("f32", payload.DType);
        Assert.Equal(shape, payload.Shape);
        Assert.Equal(original.numel() * 4, payload.Bytes.LongLength);
        var back = payload.ToTensor();
        Assert.Equal(ScalarType.Float32, back.dtype);
        Assert.Equal(shape, back.shape);
        Assert.True(eq(original, back).all().item<bool>());
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Bf16WireHalvesTheBytesAndRoundsWithinHalfAnUlp(long[] shape)
    {
        using var scope = NewDisposeScope();
        var original = randn(shape, generator: new Generator(2)) * 100;
        var payload = TensorPayload.FromTensor(original, WireDType.Bf16);
        Assert.Equal("bf16", payload.DType);
        Assert.Equal(original.numel() * 2, payload.Bytes.LongLength);
        var back = payload.ToTensor();
        Assert.Equal(ScalarType.Float32, back.dtype);
        Assert.Equal(shape, back.shape);
        // bf16 keeps 8 significant bits (7 stored): for |x| in [2^e, 2^(e+1)) the ulp is 2^(e-7), and round-to-nearest
        // is off by at most half of it, 2^(e-8) <= |x| * 2^-8.
        var error = (back - original).abs();
        var bound = original.abs() * Math.Pow(2, -8);
        Assert.True(le(error, bound).all().item<bool>());
    }

    [Fact]
    public void Bf16TensorTravelsExactlyAsBf16()
    {
        using var scope = NewDisposeScope();
        var original = randn(new long[] { 3, 5 }, generator: new Generator(3)).to_type(ScalarType.BFloat16);
        var back = TensorPayload.FromTensor(original, WireDType.Bf16).ToTensor(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, back.dtype);
        Assert.True(eq(original, back).all().item<bool>());
    }

    [Fact]
    public void NonContiguousAndGradTrackingTensorsAreCopiedAsTheyLook()
    {
        using var scope = NewDisposeScope();
        var leaf = arange(12, dtype: ScalarType.Float32).reshape(3, 4).requires_grad_(true);
        var transposed = leaf.t(); // [4, 3], not contiguous
        var back = TensorPayload.FromTensor(transposed).ToTensor();
        Assert.Equal(new long[] { 4, 3 }, back.shape);
        Assert.True(eq(transposed.detach(), back).all().item<bool>());
    }

    [Fact]
    public void WrongByteCountIsRejectedWithOneLineNamingShapeAndSizes()
    {
        var payload = new TensorPayload([2, 3], "f32", new byte[20]);
        var e = Assert.Throws<InvalidDataException>(() => payload.ToTensor());
        Assert.Equal("tensor payload: shape [2, 3] f32 needs 24 bytes (got 20)", e.Message);
    }

    [Fact]
    public void UnknownDTypeIsRejected()
    {
        var e = Assert.Throws<InvalidDataException>(() => new TensorPayload([1], "f16", new byte[2]).Validate());
        Assert.Contains("\"f16\"", e.Message);
    }
}
