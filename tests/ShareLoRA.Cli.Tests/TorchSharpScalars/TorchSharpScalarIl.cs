using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Emit = System.Reflection.Emit;

namespace ShareLoRA.Cli.Tests.TorchSharpScalars;

/// <summary>
/// Reads TorchSharp.dll's IL to find the methods that make a Scalar and never dispose it (e.g. <c>add(Tensor)</c> is
/// <c>add(t, 1)</c> with an implicit int Scalar), and every TorchSharp method that calls one of them (<c>a + b</c>).
/// Such a temporary can be finalized while libtorch still reads its handle. ToScalar itself is a factory whose caller
/// owns the result, so it is not counted.
/// </summary>
public static class TorchSharpScalarIl
{
    private static readonly Dictionary<int, Emit.OpCode> OpCodes = typeof(Emit.OpCodes).GetFields()
        .Select(f => (Emit.OpCode)f.GetValue(null)!).ToDictionary(o => (int)(ushort)o.Value);

    /// <summary>Metadata tokens of the TorchSharp methods that leave a Scalar temporary to the finalizer.</summary>
    public static HashSet<int> LeakyMethods(string torchSharpDll)
    {
        using var stream = File.OpenRead(torchSharpDll);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var leaky = new HashSet<int>();
        var callers = new Dictionary<int, List<int>>();
        foreach (var handle in md.MethodDefinitions)
        {
            var method = md.GetMethodDefinition(handle);
            if (method.RelativeVirtualAddress == 0) continue;
            int self = MetadataTokens.GetToken(handle);
            bool makes = false, disposes = false;
            var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
            while (il.RemainingBytes > 0)
            {
                int code = il.ReadByte();
                if (code == 0xFE) code = 0xFE00 | il.ReadByte();
                var operand = OpCodes[code].OperandType;
                if (operand == Emit.OperandType.InlineMethod)
                {
                    var callee = MetadataTokens.EntityHandle(il.ReadInt32());
                    if (callee.Kind == HandleKind.MethodSpecification)
                        callee = md.GetMethodSpecification((MethodSpecificationHandle)callee).Method;
                    var (type, name) = Describe(md, callee);
                    if ((type == "TorchSharp.Scalar" && name is "op_Implicit" or ".ctor") || name == "ToScalar") makes = true;
                    if (name == "Dispose" && type is "TorchSharp.Scalar" or "System.IDisposable") disposes = true;
                    if (callee.Kind == HandleKind.MethodDefinition && code != 0x73)   // not newobj: a Tensor wrapping a handle
                    {
                        int target = MetadataTokens.GetToken(callee);
                        if (!callers.TryGetValue(target, out var list)) callers[target] = list = [];
                        list.Add(self);
                    }
                    continue;
                }
                int skip = operand switch
                {
                    Emit.OperandType.InlineNone => 0,
                    Emit.OperandType.ShortInlineBrTarget or Emit.OperandType.ShortInlineI or Emit.OperandType.ShortInlineVar => 1,
                    Emit.OperandType.InlineVar => 2,
                    Emit.OperandType.InlineI8 or Emit.OperandType.InlineR => 8,
                    Emit.OperandType.InlineSwitch => 4 * il.ReadInt32(),
                    _ => 4,
                };
                il.Offset += skip;   // after the switch: InlineSwitch reads its count first
            }
            if (makes && !disposes && md.GetString(method.Name) != "ToScalar") leaky.Add(self);
        }
        var queue = new Queue<int>(leaky);
        while (queue.Count > 0)
            if (callers.TryGetValue(queue.Dequeue(), out var list))
                foreach (var caller in list)
                    if (md.GetString(md.GetMethodDefinition(MetadataTokens.MethodDefinitionHandle(caller)).Name) != "ToScalar" && leaky.Add(caller))
                        queue.Enqueue(caller);
        return leaky;
    }

    private static (string Type, string Name) Describe(MetadataReader md, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
                var def = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                var declaring = md.GetTypeDefinition(def.GetDeclaringType());
                return ($"{md.GetString(declaring.Namespace)}.{md.GetString(declaring.Name)}", md.GetString(def.Name));
            case HandleKind.MemberReference:
                var member = md.GetMemberReference((MemberReferenceHandle)handle);
                var type = member.Parent.Kind switch
                {
                    HandleKind.TypeReference => RefName(md.GetTypeReference((TypeReferenceHandle)member.Parent)),
                    HandleKind.TypeDefinition => DefName(md.GetTypeDefinition((TypeDefinitionHandle)member.Parent)),
                    _ => "",
                };
                return (type, md.GetString(member.Name));
            default:
                return ("", "");
        }

        string RefName(TypeReference t) => $"{md.GetString(t.Namespace)}.{md.GetString(t.Name)}";
        string DefName(TypeDefinition t) => $"{md.GetString(t.Namespace)}.{md.GetString(t.Name)}";
    }
}
