using System.Diagnostics;
using System.Text;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// Runs alone: the working set is process-wide, so test classes running in parallel in the same process would add
/// their own allocations to the growth this test measures (seen in CI: 88 MB from neighbours, not from the trainer).
/// </summary>
[CollectionDefinition(nameof(TrainerMemoryTests), DisableParallelization = true)]
public sealed class TrainerMemoryCollection;

/// <summary>
/// Each training path and the beam search run many units (optimizer steps with evaluations, or generated instances)
/// after a warm-up. The number of live tensor handles on this thread must then be the same after every unit (exact: any
/// per-unit tensor not disposed shows), and the process working set must not grow by 50 MB. Vocabularies are large so
/// that one micro-batch's logits take MBs: memory held on to per step (buffers outside tensor handles, a graph kept
/// alive before its backward) would add hundreds of MB.
/// </summary>
[Collection(nameof(TrainerMemoryTests))]
public sealed class TrainerMemoryTests(ITestOutputHelper output)
{
    private const long MaxGrowth = 50L << 20;
    private const int Vocab = 2048;
    // Every module type the GPT-2 and RoBERTa adapter hooks reach, so each adapter path runs.
    private const string EveryTarget = """adapter.targets=["q", "k", "v", "o", "up", "down"]""";

    /// <summary>Llama, 200 micro-batches (100 steps x 2) through two stages, an evaluation every 20 steps.</summary>
    [Fact]
    public void TwoHundredMicroStepsLeakNeitherTensorsNorMemory()
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config(layers: 2, vocab: Vocab, hidden: 32);
        var model = TrainerJobs.SaveModel(folder, config);
        var data = TrainerJobs.Data(config.VocabSize, train: 64, eval: 4, minLength: 40, maxLength: 48);
        var job = TrainerJobs.Job(folder, model, "share-a", 2, Path.Combine(folder.Path, "out"),
            "steps=100", "batch.micro_batches=2", "batch.micro_batch_size=4");
        using var trainer = new LocalPipelineTrainer(job, data, padId: 2);
        AssertStepsLeakNothing("llama", trainer, warmUp: 20, evalEvery: 20);
    }

    /// <summary>
    /// A GPT-2 E2E job (label smoothing 0.1, adapter dropout, every GPT-2 module type) on two stages: 100 steps of
    /// 2 x 4 sequences with an evaluation every 10 steps.
    /// </summary>
    [Fact]
    public void AnE2eJobOnTwoStagesLeaksNeitherTensorsNorMemory()
    {
        using var folder = new TempFolder();
        var model = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"), new Gpt2Config(VocabSize: Vocab, MaxPositions: 64, HiddenSize: 32,
            NumLayers: 2, NumHeads: 2, InnerSize: 64, BosTokenId: SpreadCharTokenizer.Eos, EosTokenId: SpreadCharTokenizer.Eos));
        var job = TrainerJobs.Job(folder, model, "share-a", 2, Path.Combine(folder.Path, "out"),
            """task={"kind": "e2e", "label_smoothing": 0.1}""",
            $"data.train={folder.Write("train.csv", E2eCsv(48, 1))}", $"data.eval={folder.Write("dev.csv", E2eCsv(6, 2))}",
            "data.source_max_len=32", "data.target_max_len=32", EveryTarget,
            "steps=100", "batch.micro_batches=2", "batch.micro_batch_size=4");
        var tokenizer = new SpreadCharTokenizer(Vocab, padId: null);
        using var trainer = new LocalPipelineTrainer(job, E2eJobData.Prepare(job, tokenizer), BatchCollator.PadIdOf(tokenizer));
        Assert.Equal(0.1, Assert.IsType<Gpt2StageModel>(trainer.Stages[^1].Model).LabelSmoothing);
        AssertStepsLeakNothing("gpt2 e2e", trainer, warmUp: 10, evalEvery: 10);
    }

    /// <summary>
    /// A RoBERTa MRPC job on two stages: the classifier head trained by the last stage's AdamW, 100 steps of 2 x 4
    /// sentence pairs, an evaluation with dev accuracy and F1 from per-row predictions every 10 steps (11 dev rows: the
    /// last eval batch is short).
    /// </summary>
    [Fact]
    public void AGlueJobOnTwoStagesLeaksNeitherTensorsNorMemory()
    {
        using var folder = new TempFolder();
        var model = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"), config: new RobertaConfig(VocabSize: Vocab, HiddenSize: 32,
            NumLayers: 2, NumHeads: 2, IntermediateSize: 64, MaxPositions: 66, NumLabels: 2));
        var job = TrainerJobs.Job(folder, model, "share-a", 2, Path.Combine(folder.Path, "out"),
            """task={"kind": "glue", "name": "mrpc"}""",
            $"data.train={folder.Write("train.tsv", MrpcTsv(40, 1))}", $"data.eval={folder.Write("dev.tsv", MrpcTsv(11, 2))}",
            "data.source_max_len=64", EveryTarget,
            "steps=100", "batch.micro_batches=2", "batch.micro_batch_size=4");
        var tokenizer = new SpreadCharTokenizer(Vocab, padId: 1);
        using var trainer = new LocalPipelineTrainer(job, LocalPipelineTrainer.PrepareData(job, tokenizer), BatchCollator.PadIdOf(tokenizer));
        Assert.NotEmpty(trainer.Stages[^1].HeadParameters);
        AssertStepsLeakNothing("roberta glue", trainer, warmUp: 10, evalEvery: 10, eval =>
        {
            Assert.Equal(11, eval.RowPredictions!.Count);
            Assert.Equal(["dev_accuracy", "dev_f1"], eval.Metrics!.Values.Select(v => v.Name));
        });
    }

    /// <summary>
    /// E2E generation over a tiny GPT-2 with a share-a bank: 60 instances, beam 4, up to 6 new tokens each, through one
    /// <see cref="Gpt2BeamModel"/> (its KV cache reordered every step). The live count is the same after every instance
    /// past the warm-up, and once generation returns, the count before it.
    /// </summary>
    [Fact]
    public void BeamSearchOverManyInstancesLeaksNeitherTensorsNorMemory()
    {
        var config = new Gpt2Config(VocabSize: Vocab, MaxPositions: 128, HiddenSize: 32, NumLayers: 2, NumHeads: 2, InnerSize: 64,
            BosTokenId: SpreadCharTokenizer.Eos, EosTokenId: SpreadCharTokenizer.Eos);
        using var model = Gpt2Model.CreateRandom(config, TinyFamilies.ModelSeed, initStd: 0.1);
        var layout = AdapterLayout.ForMethod("share-a", config.NumLayers, Gpt2Model.AdapterDims(config), TinyFamilies.AllTargets, 4, 8, 0.1);
        using var bank = AdapterBank.Create(layout, TinyFamilies.AdapterSeed);
        var instances = E2eReader.ParseCsv(E2eInstancesCsv(60), "instances.csv");
        Assert.Equal(60, instances.Count);
        var tokenizer = new SpreadCharTokenizer(Vocab, padId: null);
        var options = new BeamSearchOptions(Beams: 4, MaxNewTokens: 6);

        long before = Live;
        IReadOnlyList<string> outputs = [];
        AssertNoLeak("beam search", warmUp: 5, unitDone => outputs = E2eGenerator.Generate(model, bank, tokenizer, instances, options,
            (n, _) => unitDone($"instance {n}")));
        Assert.Equal(60, outputs.Count);
        Assert.Equal(before, Live);
    }

    // Steps of the trainer, an evaluation after every evalEvery-th (each checked by inspectEval); the unit is one step.
    private void AssertStepsLeakNothing(string what, LocalPipelineTrainer trainer, int warmUp, int evalEvery,
        Action<EvalResult>? inspectEval = null) =>
        AssertNoLeak(what, warmUp, unitDone =>
        {
            for (int step = 1; step <= trainer.Job.Steps; step++)
            {
                trainer.TrainStep();
                if (step % evalEvery == 0) inspectEval?.Invoke(trainer.Evaluate()!);
                unitDone(step % evalEvery == 0 ? $"step {step} and its evaluation" : $"step {step}");
            }
        });

    /// <summary>
    /// Runs <paramref name="run"/>, which calls its argument after each unit of work: after unit
    /// <paramref name="warmUp"/> the live tensor count and working set are recorded, after every later unit the live
    /// count must equal the recorded one, and when the run returns the working set must have grown less than 50 MB.
    /// </summary>
    private void AssertNoLeak(string what, int warmUp, Action<Action<string>> run)
    {
        int units = 0;
        long live = -1, workingSet = 0;
        run(unit =>
        {
            units++;
            if (units == warmUp)
            {
                Settle();
                (live, workingSet) = (Live, WorkingSet);
            }
            else if (units > warmUp && Live != live)
                Assert.Fail($"{what}: {Live} live tensors after {unit}, {live} after the {warmUp}-unit warm-up ({Live - live:+0;-0} leaked or freed)");
        });
        Assert.True(units > warmUp, $"{what}: only {units} unit(s) ran, warm-up {warmUp}");
        Settle();
        long growth = WorkingSet - workingSet;
        output.WriteLine($"{what}: {live} live tensors from unit {warmUp} to {units}; working set {workingSet >> 20} MB after warm-up, grew by {growth / (1 << 20)} MB");
        Assert.True(growth < MaxGrowth, $"{what}: working set grew by {growth / (1 << 20)} MB over {units - warmUp} units after warm-up");
    }

    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static long WorkingSet
    {
        get
        {
            using var process = Process.GetCurrentProcess();
            return process.WorkingSet64;
        }
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        // glibc keeps freed heap pages mapped: after variable-length batches the working set jittered by +-25 MB from
        // sample to sample (E2E, measured). Trimming hands them back, so the figure tracks the memory actually held.
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { } // not glibc (musl): no trim
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    private static readonly string[] Names = ["Aroma", "Cotto", "The Vaults", "Alimentum", "Zizzi", "Loch Fyne", "The Mill", "Wildwood"];
    private static readonly string[] Foods = ["Thai", "Italian", "French", "Chinese", "English"];
    private static readonly string[] Areas = ["riverside", "city centre"];

    // E2E NLG training rows (mr,ref) from a seeded draw of two slots: 40 to 66 tokens, cut at 64.
    private static string E2eCsv(int rows, int seed)
    {
        var rng = new Random(seed);
        var csv = new StringBuilder("mr,ref\n");
        for (int i = 0; i < rows; i++)
        {
            string name = Names[rng.Next(Names.Length)], food = Foods[rng.Next(Foods.Length)];
            csv.Append($"\"name[{name}], food[{food}]\",{name} serves {food} food.\n");
        }
        return csv.ToString();
    }

    // E2E NLG rows walking the 80 combinations of three slots: each row is its own MR, so its own generation instance.
    private static string E2eInstancesCsv(int rows)
    {
        var csv = new StringBuilder("mr,ref\n");
        for (int i = 0; i < rows; i++)
        {
            string name = Names[i % Names.Length], food = Foods[i / Names.Length % Foods.Length];
            string area = Areas[i / (Names.Length * Foods.Length) % Areas.Length];
            csv.Append($"\"name[{name}], food[{food}], area[{area}]\",{name} serves {food} food in the {area}.\n");
        }
        return csv.ToString();
    }

    private static readonly string[] Sentences =
    [
        "the company said profits rose", "he left the meeting early", "rain is expected on monday", "the film was long and dull",
        "stocks fell sharply today", "she won the race again", "the bridge will close for repairs", "a cat sat on the mat",
    ];

    // MRPC's five columns: quality, two ids, two sentences.
    private static string MrpcTsv(int rows, int seed)
    {
        var rng = new Random(seed);
        var tsv = new StringBuilder("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n");
        for (int i = 0; i < rows; i++)
            tsv.Append($"{rng.Next(2)}\t{i}\t{i + 100}\t{Sentences[rng.Next(Sentences.Length)]}\t{Sentences[rng.Next(Sentences.Length)]}\n");
        return tsv.ToString();
    }

    /// <summary>One id per char, spread over a large vocabulary (3 + 7 x char mod (vocab - 3)); &lt;s&gt; 0 and &lt;/s&gt; 2 as RoBERTa's, EOS 2 for GPT-2.</summary>
    private sealed class SpreadCharTokenizer(int vocab, int? padId) : ITextTokenizer
    {
        public const int Eos = 2;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => text.Select(c => 3 + 7 * c % (vocab - 3)).ToList();
        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => string.Concat(ids.Select(i => (char)('a' + i % 26)));
        public int? BosId => 0;
        public int? EosId => Eos;
        public int? PadId => padId;
        public int VocabSize => vocab;
    }
}
