using System.Text.Json;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>`sharelora e2e-metrics` on small files in both reference formats, its JSON, and its one-line errors.</summary>
[Collection("Console")]
public sealed class E2eMetricsCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharelora-e2e-").FullName;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void PerfectOutputsScoreOneInTextAndJsonAndBothReferenceFormatsAgree()
    {
        var hyp = Write("hyp.txt", "The Vaults is a pub.\nCocum is a cheap coffee shop.\n");
        var csv = Write("refs.csv", "mr,ref\n\"name[The Vaults], eatType[pub]\",The Vaults is a pub.\n" +
                                    "\"name[Cocum], eatType[coffee shop]\",Cocum is a cheap coffee shop.\n" +
                                    "\"name[The Vaults], eatType[pub]\",A pub called The Vaults.\n");
        var txt = Write("refs.txt", "The Vaults is a pub.\nA pub called The Vaults.\n\nCocum is a cheap coffee shop.\n");

        var (code, stdout, stderr) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", csv);
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("BLEU: 1.0000", stdout);
        Assert.Contains("ROUGE_L: 1.0000", stdout);
        Assert.Contains("METEOR: n/a (METEOR not computed", stdout);

        var (jsonCode, json, _) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", csv, "--json");
        Assert.Equal(0, jsonCode);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("segments").GetInt32());
        Assert.Equal(1.0, root.GetProperty("BLEU").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("METEOR").ValueKind);
        Assert.Contains("METEOR", root.GetProperty("notes")[0].GetString());

        var (_, jsonTxt, _) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", txt, "--json");
        Assert.Equal(json, jsonTxt);
    }

    [Fact]
    public void CountMismatchAndTestsetWithoutRefsAreOneLineErrors()
    {
        var hyp = Write("hyp.txt", "only one\n");
        var refs = Write("refs.txt", "a\nb\n");
        var (code, _, stderr) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", refs);
        Assert.Equal(2, code);
        Assert.StartsWith("error: " + hyp + ": 1 outputs, but " + refs + " has 2 instances", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));

        var testset = Write("testset.csv", "MR\n\"name[A], eatType[pub]\"\n");
        var (code2, _, stderr2) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", testset);
        Assert.Equal(2, code2);
        Assert.Contains("testset.csv:2: the MR has no reference", stderr2);
    }

    [SkippableFact]
    public void RealTestSetWithReferencesScoresTheFirstReferences()
    {
        var csv = SharedAssets.RequireDirectory("data/e2e/testset_w_refs.csv");
        var instances = ShareLoRA.Training.Tasks.E2e.E2eReader.ReadCsv(csv);
        var hyp = Write("hyp.txt", string.Join("\n", instances.Select(x => x.References[0])) + "\n");
        var (code, stdout, _) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", csv, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(630, doc.RootElement.GetProperty("segments").GetInt32());
        Assert.Equal(1.0, doc.RootElement.GetProperty("BLEU").GetDouble(), 12);
    }
}
