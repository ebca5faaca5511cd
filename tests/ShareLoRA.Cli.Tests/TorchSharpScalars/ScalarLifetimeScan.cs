using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace ShareLoRA.Cli.Tests.TorchSharpScalars;

/// <summary>
/// Finds the places in C# sources where a TorchSharp Scalar is a temporary that libtorch may read after the GC
/// finalized it: a number converted to Scalar (or Tensor) by a user-defined conversion, a Scalar-returning call not held
/// by a <c>using</c> declaration, and a call into a TorchSharp member that makes such a temporary itself
/// (see <see cref="TorchSharpScalarIl"/>). The fix for each is an explicit Scalar in a <c>using</c> declaration that
/// outlives the call, or ShareLoRA.Model.Layers.KeptScalarOps.
/// </summary>
public sealed class ScalarLifetimeScan(IReadOnlyList<MetadataReference> references, HashSet<int> leakyTorchSharpMethods)
{
    /// <summary>One finding: file:line, what kind, and the expression.</summary>
    public sealed record Site(string File, int Line, string Kind, string Code)
    {
        public override string ToString() => $"{File}:{Line}: {Kind} `{Code}`";
    }

    /// <summary>The sites in the given sources, compiled as one assembly, plus the errors in files that name TorchSharp.</summary>
    public (List<Site> Sites, List<Diagnostic> Errors) Scan(string assemblyName, IEnumerable<(string Path, string Text)> sources)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, parse, s.Path)).ToList();
        var compilation = CSharpCompilation.Create(assemblyName, trees, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var scalar = compilation.GetTypeByMetadataName("TorchSharp.Scalar");
        var tensor = compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor");
        var sites = new List<Site>();
        var errors = new List<Diagnostic>();
        foreach (var tree in trees)
        {
            var model = compilation.GetSemanticModel(tree);
            // Binding errors matter only where TorchSharp is named (an unbound expression would hide a site); checking
            // only there keeps the scan fast. (Regex source generators do not run here: their partials report CS8795.)
            if (tree.ToString().Contains("TorchSharp", StringComparison.Ordinal))
                errors.AddRange(model.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
            if (scalar is null || tensor is null) continue;
            foreach (var body in tree.GetRoot().DescendantNodes().Where(IsOperationRoot))
            {
                var root = model.GetOperation(body);
                if (root is null) continue;
                foreach (var op in root.DescendantsAndSelf())
                {
                    var kind = Classify(op, scalar, tensor);
                    if (kind is null) continue;
                    int line = op.Syntax.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                    var code = op.Syntax.ToString().ReplaceLineEndings(" ");
                    sites.Add(new Site(tree.FilePath, line, kind, code.Length > 100 ? code[..100] + "..." : code));
                }
            }
        }
        return (sites, errors);
    }

    // Bodies, expression bodies and initializers of members; lambdas and local functions are inside them.
    private static bool IsOperationRoot(SyntaxNode node) =>
        node is PrimaryConstructorBaseTypeSyntax
        || (node is BlockSyntax or ArrowExpressionClauseSyntax or EqualsValueClauseSyntax or ConstructorInitializerSyntax
            && node.Parent is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or PropertyDeclarationSyntax
                or IndexerDeclarationSyntax or VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax });

    private string? Classify(IOperation op, INamedTypeSymbol scalar, INamedTypeSymbol tensor)
    {
        switch (op)
        {
            case IConversionOperation { Conversion.IsUserDefined: true } conversion
                when SymbolEqualityComparer.Default.Equals(conversion.Type, scalar) || SymbolEqualityComparer.Default.Equals(conversion.Type, tensor):
                return $"{(conversion.IsImplicit ? "implicit" : "cast")} {conversion.Operand.Type?.ToDisplayString()} -> {conversion.Type!.Name}";
            case IInvocationOperation or IObjectCreationOperation when SymbolEqualityComparer.Default.Equals(op.Type, scalar) && !HeldByUsing(op):
                return "Scalar not held by a using declaration";
        }
        var target = op switch
        {
            IInvocationOperation invocation => invocation.TargetMethod,
            IBinaryOperation binary => binary.OperatorMethod,
            IUnaryOperation unary => unary.OperatorMethod,
            ICompoundAssignmentOperation compound => compound.OperatorMethod,
            IObjectCreationOperation creation => creation.Constructor,
            _ => null,
        };
        if (target?.ContainingAssembly?.Name != "TorchSharp" || !leakyTorchSharpMethods.Contains(target.OriginalDefinition.MetadataToken)) return null;
        return $"TorchSharp's {target.ContainingType.Name}.{target.Name}({string.Join(", ", target.Parameters.Select(p => p.Type.Name))}) makes its own temporary Scalar";
    }

    // `using var s = x.ToScalar();` (or `using (...)`), or a method returning the Scalar to a caller that owns it.
    private static bool HeldByUsing(IOperation op)
    {
        var parent = op.Parent;
        while (parent is IConversionOperation { IsImplicit: true }) parent = parent.Parent;
        if (parent is IReturnOperation) return true;
        return parent is IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Parent: IVariableDeclarationOperation { Parent: IVariableDeclarationGroupOperation group } } }
            && group.Parent is IUsingDeclarationOperation or IUsingOperation;
    }
}
