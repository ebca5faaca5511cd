using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ShareLoRA.Cli.Tests.TorchSharpScalars;

/// <summary>
/// Guards against temporary TorchSharp Scalars in src/: TorchSharp 0.107 hands <c>scalar.Handle</c> to libtorch without
/// GC.KeepAlive, so an implicit Scalar can be finalized mid-call ("Unknown scalar type" in CI). Lives in the Cli tests
/// because their bin/ holds every src project's references, so each project compiles fully.
/// </summary>
public class ScalarLifetimeTests
{
    private static readonly string[] Projects = ["ShareLoRA.Model", "ShareLoRA.Training", "ShareLoRA.Cluster", "ShareLoRA.Cli"];

    // What <ImplicitUsings>enable</ImplicitUsings> adds for Microsoft.NET.Sdk (src/ has no other <Using> items).
    private const string ImplicitUsings = "global using System; global using System.Collections.Generic; global using System.IO; "
        + "global using System.Linq; global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;";

    [Fact]
    public void NoSourceFileInSrcHandsLibtorchATemporaryScalar()
    {
        var root = RepositoryRoot();
        var leaky = LeakyTorchSharpMethods.Value;
        var sites = new List<string>();
        var bindingErrors = new List<string>();
        foreach (var project in Projects)
        {
            var dir = Path.Combine(root, "src", project);
            var sources = Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
                .Where(f => !Path.GetRelativePath(dir, f).Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
                .Select(f => (Path.GetRelativePath(root, f), File.ReadAllText(f)))
                .Append(("GlobalUsings.g.cs", ImplicitUsings));
            var scan = new ScalarLifetimeScan(References(except: project), leaky);
            var (found, errors) = scan.Scan(project, sources);
            sites.AddRange(found.Select(s => s.ToString()));
            bindingErrors.AddRange(errors.Select(e => e.ToString()));
        }
        Assert.True(bindingErrors.Count == 0, "files using TorchSharp did not compile in the scan:\n" + string.Join("\n", bindingErrors));
        Assert.True(sites.Count == 0, $"{sites.Count} temporary Scalar(s) reach libtorch; hold an explicit Scalar in a `using` "
            + "declaration across the call or use ShareLoRA.Model.Layers.KeptScalarOps:\n" + string.Join("\n", sites));
    }

    [Fact]
    public void TheScanFindsEachKindOfTemporaryScalar()
    {
        const string source = """
            using TorchSharp;
            using static TorchSharp.torch;
            static class Sample
            {
                static Tensor Implicit(Tensor t) => t.mul(0.5);                      // double -> Scalar
                static Tensor Unheld(Tensor t) => t.add(2.ToScalar(), 1.ToScalar()); // two Scalars left to the GC
                static Tensor Sum(Tensor a, Tensor b) => a + b;                      // TorchSharp's own alpha 1
                static Tensor Kept(Tensor t)
                {
                    using Scalar half = 0.5.ToScalar(), one = 1.ToScalar();
                    return t.mul(half).add(t, one);                                  // fine
                }
            }
            """;
        var leaky = LeakyTorchSharpMethods.Value;
        var (sites, errors) = new ScalarLifetimeScan(References(except: "none"), leaky).Scan("Sample", [("Sample.cs", source)]);
        Assert.Empty(errors);
        Assert.Equal([5, 6, 6, 7], sites.Select(s => s.Line).Order());
    }

    // Metadata is read once and shared by every compilation (Roslyn caches it per reference object).
    private static readonly Lazy<List<(string Name, MetadataReference Reference)>> AllReferences = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName).Select(g => g.First())
            .Where(IsManagedAssembly)
            .Select(p => (Path.GetFileNameWithoutExtension(p), (MetadataReference)MetadataReference.CreateFromFile(p)))
            .ToList());

    private static readonly Lazy<HashSet<int>> LeakyTorchSharpMethods =
        new(() => TorchSharpScalarIl.LeakyMethods(Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll")));

    private static List<MetadataReference> References(string except) =>
        AllReferences.Value.Where(r => r.Name != except).Select(r => r.Reference).ToList();

    private static bool IsManagedAssembly(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        return pe.HasMetadata && pe.GetMetadataReader().IsAssembly;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ShareLoRA.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no ShareLoRA.Actors.sln above {AppContext.BaseDirectory}");
    }
}
