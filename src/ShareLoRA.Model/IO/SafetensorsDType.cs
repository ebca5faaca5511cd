using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>Maps safetensors dtype strings ("F32", "BF16", ...) to TorchSharp scalar types and element sizes.</summary>
public static class SafetensorsDType
{
    public static bool TryToScalarType(string dtype, out ScalarType type)
    {
        switch (dtype)
        {
            case "F32": type = ScalarType.Float32; return true;
            case "F16": type = ScalarType.Float16; return true;
            case "BF16": type = ScalarType.BFloat16; return true;
            case "F64": type = ScalarType.Float64; return true;
            case "I64": type = ScalarType.Int64; return true;
            case "I32": type = ScalarType.Int32; return true;
            case "I16": type = ScalarType.Int16; return true;
            case "I8": type = ScalarType.Int8; return true;
            case "U8": type = ScalarType.Byte; return true;
            case "BOOL": type = ScalarType.Bool; return true;
            default: type = default; return false;
        }
    }

    public static string FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"dtype {type} cannot be stored in safetensors"),
    };

    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new ArgumentException($"unsupported dtype {type}"),
    };
}
