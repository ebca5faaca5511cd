using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Training.Tasks.E2e;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora e2e-metrics`: BLEU, NIST, ROUGE-L and CIDEr of E2E NLG outputs as the official e2e-metrics scorer defines them.</summary>
public static class E2eMetricsCommand
{
    public static Command Create()
    {
        var hyp = new Option<string>("--hyp")
        {
            HelpName = "FILE",
            Description = "System outputs, one per line, in the order of the references' instances.",
            Required = true,
        };
        var refs = new Option<string>("--refs")
        {
            HelpName = "FILE",
            Description = "References: an official E2E CSV (mr,ref; rows with the same MR form one instance, in order of first appearance) " +
                          "or a text file with one reference per line and instances separated by a blank line.",
            Required = true,
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object {\"segments\", \"BLEU\", \"NIST\", \"METEOR\": null, \"ROUGE_L\", \"CIDEr\", \"notes\"} instead of lines.",
        };
        var command = new Command("e2e-metrics",
            "Score E2E NLG outputs: corpus BLEU-4 and NIST-5 as mteval-v13a, ROUGE-L and CIDEr as coco-caption (e2e-metrics' definitions; " +
            "BLEU on the 0..1 scale). METEOR is not computed (it needs METEOR 1.5's WordNet and paraphrase tables).")
        {
            hyp, refs, json,
        };
        command.SetAction(parse =>
        {
            var hypPath = parse.GetValue(hyp)!;
            var refPath = parse.GetValue(refs)!;
            if (!File.Exists(hypPath)) throw new UserError($"--hyp: file not found: {hypPath}");
            if (!File.Exists(refPath)) throw new UserError($"--refs: file not found: {refPath}");
            var references = ReadReferences(refPath);
            var hypotheses = E2eReader.ReadHypotheses(hypPath);
            if (hypotheses.Count != references.Count)
                throw new UserError($"{hypPath}: {hypotheses.Count} outputs, but {refPath} has {references.Count} instances (one output line per instance)");
            var scores = E2eMetrics.Compute(hypotheses, references);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["segments"] = scores.Segments,
                    ["BLEU"] = scores.Bleu,
                    ["NIST"] = scores.Nist,
                    ["METEOR"] = scores.Meteor,
                    ["ROUGE_L"] = scores.RougeL,
                    ["CIDEr"] = scores.Cider,
                    ["notes"] = new[] { E2eScores.MeteorNote, CocoNote },
                }, ModelArguments.Json));
                return 0;
            }
            var c = CultureInfo.InvariantCulture;
            Console.Out.WriteLine($"segments: {scores.Segments}");
            Console.Out.WriteLine(string.Format(c, "BLEU: {0:F4}", scores.Bleu));
            Console.Out.WriteLine(string.Format(c, "NIST: {0:F4}", scores.Nist));
            Console.Out.WriteLine("METEOR: n/a (" + E2eScores.MeteorNote + ")");
            Console.Out.WriteLine(string.Format(c, "ROUGE_L: {0:F4}", scores.RougeL));
            Console.Out.WriteLine(string.Format(c, "CIDEr: {0:F4}", scores.Cider));
            Console.Out.WriteLine("note: " + CocoNote);
            return 0;
        });
        return command;
    }

    private const string CocoNote =
        "ROUGE_L and CIDEr use a C# re-implementation of coco-caption's PTB tokenisation, which can differ from the Java tokenizer on rare inputs";

    private static IReadOnlyList<IReadOnlyList<string>> ReadReferences(string path)
    {
        if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            var instances = E2eReader.ReadCsv(path);
            var empty = instances.FirstOrDefault(x => x.References.Count == 0);
            if (empty != null)
                throw new UserError($"{path}:{empty.Line}: the MR has no reference (testset.csv has none: use testset_w_refs.csv)");
            return instances.Select(x => x.References).ToList();
        }
        var groups = E2eReader.ReadReferenceGroups(path);
        if (groups.Count == 0) throw new UserError($"{path}: no references");
        return groups;
    }
}
