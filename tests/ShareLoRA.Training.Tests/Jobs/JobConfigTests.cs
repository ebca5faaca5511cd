using ShareLoRA.Training.Jobs;
using Xunit;

namespace ShareLoRA.Training.Tests.Jobs;

public sealed class JobConfigTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private const string Minimal = """{ "model": "models/tiny", "data": { "train": "data/train.jsonl" } }""";

    private const string Full = """
        // comments are allowed in job files
        {
          "name": "llama3-8b-share-a",
          "model": "/models/Meta-Llama-3-8B",
          "data": {
            "train": "data/alpaca.json", "eval": "data/eval.jsonl", "format": "alpaca",
            "source_max_len": 256, "target_max_len": 128, "train_on_source": true,
            "eval_every": 100, "eval_max_examples": 1000, "skip_bad_lines": true, "shuffle": false,
            "eval_fraction": 0, "group_by_length": true
          },
          "adapter": { "method": "share-a", "rank": 8, "alpha": 32, "dropout": 0.05,
                       "targets": ["v_proj", "q"], "share": { "v": "none" } },
          "optim": { "lr": 1e-4, "weight_decay": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "schedule": "cosine",
                     "warmup_steps": 30, "max_grad_norm": 1.0 },
          "batch": { "micro_batch_size": 2, "micro_batches": 8 },
          "steps": 300, "seed": 7, "output": "../runs/x", "device": "cuda:1", "dtype": "bf16",
          "pipeline": { "stages": 4, "schedule": "gpipe", "wire_dtype": "bf16" },
          "checkpoint": { "every": 50, "keep": 2 },
        }
        """;

    private JobConfig LoadText(string json, params string[] overrides) =>
        JobConfig.Load(_folder.Write("jobs/job.json", json), overrides);

    private string JobPath => System.IO.Path.Combine(_folder.Path, "jobs", "job.json");

    private string Resolved(string relativeToJobs) => System.IO.Path.GetFullPath(System.IO.Path.Combine(_folder.Path, "jobs", relativeToJobs));

    /// <summary>The exact message of loading <paramref name="json"/>, which must fail.</summary>
    private string Error(string json, params string[] overrides) =>
        Assert.Throws<JobConfigException>(() => LoadText(json, overrides)).Message;

    [Fact]
    public void FullExampleReadsEveryField()
    {
        var job = LoadText(Full);
        Assert.Equal("llama3-8b-share-a", job.Name);
        Assert.Equal("/models/Meta-Llama-3-8B", job.Model);
        var d = job.Data;
        Assert.Equal(Resolved("data/alpaca.json"), d.Train);
        Assert.Equal(Resolved("data/eval.jsonl"), d.Eval);
        Assert.Equal(("alpaca", 256, 128, true), (d.Format, d.SourceMaxLen, d.TargetMaxLen, d.TrainOnSource));
        Assert.Equal((100, 1000, true, false, 0.0, true), (d.EvalEvery, d.EvalMaxExamples, d.SkipBadLines, d.Shuffle, d.EvalFraction, d.GroupByLength));
        var a = job.Adapter;
        Assert.Equal(("share-a", 8, 32.0, 0.05), (a.Method, a.Rank, a.Alpha, a.Dropout));
        Assert.Equal(["q", "v"], a.Targets); // HF names normalized, canonical order
        Assert.Equal(new Dictionary<string, string> { ["v"] = "none" }, a.Share);
        Assert.Equal(4.0, a.Scale);
        var o = job.Optim;
        Assert.Equal((1e-4, 0.01, (0.8, 0.99), 1e-6, "cosine", 30, 1.0),
            (o.Lr, o.WeightDecay, o.Betas, o.Eps, o.Schedule, o.WarmupSteps, o.MaxGradNorm));
        Assert.Equal(new BatchConfig(2, 8), job.Batch);
        Assert.Equal(16, job.SequencesPerStep);
        Assert.Equal((300, 7L, Resolved("../runs/x"), "cuda:1", "bf16"), (job.Steps, job.Seed, job.Output, job.Device, job.Dtype));
        Assert.Equal(new PipelineConfig(4, "gpipe", "bf16"), job.Pipeline);
        Assert.Equal(new CheckpointConfig(50, 2), job.Checkpoint);
    }

    [Fact]
    public void MissingFieldsTakeTheDocumentedDefaults()
    {
        var job = LoadText(Minimal);
        Assert.Equal("job", job.Name); // the file name
        Assert.Equal(Resolved("models/tiny"), job.Model);
        Assert.Equal(Resolved("runs/job"), job.Output);
        Assert.Equal((3000, 42L, "cpu", "fp32"), (job.Steps, job.Seed, job.Device, job.Dtype));
        var d = job.Data;
        Assert.Null(d.Eval);
        Assert.Equal(("auto", 512, 512, false, 0, 0), (d.Format, d.SourceMaxLen, d.TargetMaxLen, d.TrainOnSource, d.EvalEvery, d.EvalMaxExamples));
        Assert.Equal((false, true, 0.0, false), (d.SkipBadLines, d.Shuffle, d.EvalFraction, d.GroupByLength));
        var a = job.Adapter;
        Assert.Equal(("lora", 64, 16.0, 0.1), (a.Method, a.Rank, a.Alpha, a.Dropout));
        Assert.Equal(["q", "k", "v", "o", "gate", "up", "down"], a.Targets);
        Assert.Empty(a.Share);
        var o = job.Optim;
        Assert.Equal((2e-4, 0.0, (0.9, 0.999), 1e-8, "constant", 0, 0.3),
            (o.Lr, o.WeightDecay, o.Betas, o.Eps, o.Schedule, o.WarmupSteps, o.MaxGradNorm));
        Assert.Equal(new BatchConfig(1, 16), job.Batch);
        Assert.Equal(new PipelineConfig(1, "1f1b", "fp32"), job.Pipeline);
        Assert.Equal(new CheckpointConfig(250, 3), job.Checkpoint);
    }

    [Fact]
    public void UnknownFieldAnywhereIsNamedByItsPath()
    {
        Assert.Equal($"{JobPath}: unknown field data.trian",
            Error("""{ "model": "m", "data": { "trian": "t.jsonl" } }"""));
        Assert.Equal($"{JobPath}: unknown field stpes", Error("""{ "model": "m", "stpes": 3, "data": { "train": "t" } }"""));
        Assert.Equal($"{JobPath}: unknown field checkpoint.evry",
            Error("""{ "model": "m", "data": { "train": "t" }, "checkpoint": { "evry": 1 } }"""));
    }

    [Fact]
    public void UnknownFieldIsReportedBeforeValueProblemsElsewhere()
    {
        Assert.Equal($"{JobPath}: unknown field pipeline.stage",
            Error("""{ "model": "m", "data": { "train": "t" }, "adapter": { "rank": 0 }, "pipeline": { "stage": 2 } }"""));
    }

    [Theory]
    [InlineData("""{ "adapter": { "rank": 0 } }""", "adapter.rank must be > 0 (got 0)")]
    [InlineData("""{ "adapter": { "rank": "64" } }""", "adapter.rank must be an integer (got \"64\")")]
    [InlineData("""{ "adapter": { "rank": 1.5 } }""", "adapter.rank must be an integer (got 1.5)")]
    [InlineData("""{ "adapter": { "alpha": -1 } }""", "adapter.alpha must be > 0 (got -1)")]
    [InlineData("""{ "adapter": { "dropout": 1 } }""", "adapter.dropout must be >= 0 and < 1 (got 1)")]
    [InlineData("""{ "adapter": { "method": "shared-a" } }""", "adapter.method must be one of lora, share-a, share-b, share-ab (got \"shared-a\")")]
    [InlineData("""{ "adapter": { "targets": [] } }""", "adapter.targets must name at least one module (got [])")]
    [InlineData("""{ "adapter": { "targets": ["q", "attn"] } }""", "adapter.targets[1] must be one of q, k, v, o, gate, up, down (got \"attn\")")]
    [InlineData("""{ "adapter": { "targets": ["q", "q_proj"] } }""", "adapter.targets[1] repeats a module already listed (got \"q_proj\")")]
    [InlineData("""{ "adapter": { "targets": "q" } }""", "adapter.targets must be an array of strings (got \"q\")")]
    [InlineData("""{ "adapter": { "share": { "q": "x" } } }""", "adapter.share.q must be one of none, a, b, ab (got \"x\")")]
    [InlineData("""{ "adapter": { "share": { "qq": "a" } } }""", "adapter.share.qq: unknown module 'qq' (expected q, k, v, o, gate, up, down)")]
    [InlineData("""{ "adapter": { "targets": ["q"], "share": { "o": "a" } } }""", "adapter.share.o: module o is not in adapter.targets")]
    [InlineData("""{ "adapter": 3 }""", "adapter must be an object (got 3)")]
    [InlineData("""{ "optim": { "lr": 0 } }""", "optim.lr must be > 0 (got 0)")]
    [InlineData("""{ "optim": { "lr": "fast" } }""", "optim.lr must be a number (got \"fast\")")]
    [InlineData("""{ "optim": { "betas": [0.9] } }""", "optim.betas must be two numbers [beta1, beta2] (got [0.9])")]
    [InlineData("""{ "optim": { "betas": [0.9, 1.5] } }""", "optim.betas[1] must be >= 0 and < 1 (got 1.5)")]
    [InlineData("""{ "optim": { "schedule": "step" } }""", "optim.schedule must be one of constant, linear, cosine (got \"step\")")]
    [InlineData("""{ "optim": { "warmup_steps": 20 }, "steps": 10 }""", "optim.warmup_steps must be <= steps (10) (got 20)")]
    [InlineData("""{ "optim": { "max_grad_norm": -1 } }""", "optim.max_grad_norm must be >= 0 (0 = no clipping) (got -1)")]
    [InlineData("""{ "batch": { "micro_batches": 0 } }""", "batch.micro_batches must be > 0 (got 0)")]
    [InlineData("""{ "steps": -5 }""", "steps must be > 0 (got -5)")]
    [InlineData("""{ "seed": -1 }""", "seed must be >= 0 (got -1)")]
    [InlineData("""{ "device": "gpu" }""", "device must be cpu, cuda or cuda:N (got \"gpu\")")]
    [InlineData("""{ "dtype": "float32" }""", "dtype must be one of fp32, bf16, fp16 (got \"float32\")")]
    [InlineData("""{ "name": "my run" }""", "name must contain only letters, digits, '.', '_' or '-' (got \"my run\")")]
    [InlineData("""{ "pipeline": { "wire_dtype": "fp16" } }""", "pipeline.wire_dtype must be one of fp32, bf16 (got \"fp16\")")]
    [InlineData("""{ "pipeline": { "schedule": "interleaved" } }""", "pipeline.schedule must be one of 1f1b, gpipe (got \"interleaved\")")]
    [InlineData("""{ "checkpoint": { "keep": 0 } }""", "checkpoint.keep must be > 0 (got 0)")]
    [InlineData("""{ "checkpoint": { "every": -1 } }""", "checkpoint.every must be >= 0 (got -1)")]
    [InlineData("""{ "data": { "train": "t", "shuffle": "yes" } }""", "data.shuffle must be true or false (got \"yes\")")]
    [InlineData("""{ "data": { "train": "t", "format": "csv" } }""", "data.format must be one of auto, alpaca, text (got \"csv\")")]
    [InlineData("""{ "data": { "train": "t", "source_max_len": 0 } }""", "data.source_max_len must be > 0 (got 0)")]
    [InlineData("""{ "data": { "train": "t", "eval_fraction": 1 } }""", "data.eval_fraction must be >= 0 and < 1 (got 1)")]
    [InlineData("""{ "data": { "train": "t", "eval": "e", "eval_fraction": 0.1 } }""", "data.eval_fraction must be 0 when data.eval is set (use one eval source) (got 0.1)")]
    [InlineData("""{ "data": { "train": "t", "eval_every": 100 } }""", "data.eval_every needs an eval set: set data.eval or data.eval_fraction (got 100)")]
    [InlineData("""{ "data": { "train": 5 } }""", "data.train must be a string (got 5)")]
    public void InvalidValueNamesPathExpectationAndValue(string patch, string expected)
    {
        Assert.Equal($"{JobPath}: {expected}", Error(Merge(patch)));
    }

    [Fact]
    public void MissingRequiredFieldsAreNamed()
    {
        Assert.Equal($"{JobPath}: missing field model (the base model's Hugging Face directory)",
            Error("""{ "data": { "train": "t" } }"""));
        Assert.Equal($"{JobPath}: missing field data.train (the training data file)", Error("""{ "model": "m" }"""));
    }

    [Fact]
    public void BadJsonNamesTheLine()
    {
        var message = Error("{\n  \"model\": \"m\",\n  \"steps\": ,\n}");
        Assert.StartsWith($"{JobPath}:3: not valid JSON (", message);
        Assert.DoesNotContain("\n", message);
        Assert.Equal($"{JobPath}: expected a JSON object {{ ... }} at the top level", Error("[1, 2]"));
    }

    [Fact]
    public void FieldWrittenTwiceIsAnError()
    {
        var message = Error("""{ "model": "m", "data": { "train": "t" }, "steps": 1, "steps": 2 }""");
        Assert.StartsWith($"{JobPath}:1: not valid JSON (Duplicate property", message);
        Assert.Contains("'steps'", message);
        Assert.DoesNotContain("\n", message);
    }

    [Fact]
    public void MissingFileIsAOneLineError()
    {
        var path = System.IO.Path.Combine(_folder.Path, "nope.json");
        var e = Assert.Throws<JobConfigException>(() => JobConfig.Load(path));
        Assert.StartsWith($"{path}: cannot read the job file (", e.Message);
    }

    [Fact]
    public void OverridesSetValuesParsedAsJsonElseString()
    {
        var job = LoadText(Minimal,
            "adapter.rank=16", "optim.lr=1e-5", "adapter.targets=[\"q\",\"v\"]", "adapter.share.q=a", "pipeline.schedule=gpipe",
            "device=cuda:0", "data.shuffle=false", "data.eval=data/eval.jsonl", "optim.betas=[0.9,0.95]", "name=run-2");
        Assert.Equal(16, job.Adapter.Rank);
        Assert.Equal(1e-5, job.Optim.Lr);
        Assert.Equal(["q", "v"], job.Adapter.Targets);
        Assert.Equal("a", job.Adapter.Share["q"]);
        Assert.Equal("gpipe", job.Pipeline.Schedule);
        Assert.Equal("cuda:0", job.Device);
        Assert.False(job.Data.Shuffle);
        Assert.Equal(Resolved("data/eval.jsonl"), job.Data.Eval);
        Assert.Equal((0.9, 0.95), job.Optim.Betas);
        Assert.Equal("run-2", job.Name);
        Assert.Equal(Resolved("runs/run-2"), job.Output);
    }

    [Fact]
    public void OverrideErrorsNameTheArgument()
    {
        Assert.Equal($"{JobPath}: unknown field data.trian (from --set data.trian=x.jsonl)", Error(Minimal, "data.trian=x.jsonl"));
        Assert.Equal($"{JobPath}: unknown field foo (from --set foo.bar=1)", Error(Minimal, "foo.bar=1"));
        Assert.Equal($"{JobPath}: adapter.rank must be > 0 (got 0) (from --set adapter.rank=0)", Error(Minimal, "adapter.rank=0"));
        Assert.Equal($"{JobPath}: --set adapter.rank: expected key.path=value (e.g. adapter.rank=16)", Error(Minimal, "adapter.rank"));
        Assert.Equal($"{JobPath}: --set model.x=1: model is not an object (it is \"models/tiny\")", Error(Minimal, "model.x=1"));
    }

    [Fact]
    public void NullOverrideRestoresTheDefault()
    {
        var job = LoadText("""{ "model": "m", "data": { "train": "t", "eval": "e" }, "steps": 5 }""", "data.eval=null", "steps=null");
        Assert.Null(job.Data.Eval);
        Assert.Equal(JobConfig.DefaultSteps, job.Steps);
    }

    [Fact]
    public void PathsExpandEnvironmentVariables()
    {
        Environment.SetEnvironmentVariable("SHARELORA_TEST_MODELS", "/opt/models");
        var job = LoadText("""{ "model": "${SHARELORA_TEST_MODELS}/tiny", "data": { "train": "t" } }""");
        Assert.Equal("/opt/models/tiny", job.Model);
        Assert.Equal($"{JobPath}: model uses ${{SHARELORA_TEST_UNSET_VAR}}, which is not set in the environment (got \"${{SHARELORA_TEST_UNSET_VAR}}/x\")",
            Error("""{ "model": "${SHARELORA_TEST_UNSET_VAR}/x", "data": { "train": "t" } }"""));
    }

    [Fact]
    public void ToJsonRoundTripsExactly()
    {
        foreach (var source in new[] { Full, Minimal })
        {
            var job = LoadText(source);
            var json = job.ToJson();
            // Loaded from a different folder: every path is absolute, so nothing moves.
            var again = JobConfig.Parse(json, "checkpoint/job.json", "/somewhere/else");
            Assert.Equal(json, again.ToJson());
            Assert.Equal(job.Data, again.Data); // records without lists compare by value
            Assert.Equal(job.Optim, again.Optim);
            Assert.Equal(job.Adapter.Targets, again.Adapter.Targets);
            Assert.Equal(job.Adapter.Share, again.Adapter.Share);
            Assert.Equal(job with { Adapter = again.Adapter }, again);
        }
    }

    [Fact]
    public void ExampleJobFileInTheRepositoryLoads()
    {
        var path = System.IO.Path.Combine(ShareLoRA.TestSupport.SharedAssets.RepoRoot, "jobs", "example-llama3-8b-share-a.json");
        var job = JobConfig.Load(path);
        Assert.Equal("share-a", job.Adapter.Method);
        Assert.Equal(["q", "v"], job.Adapter.Targets);
        Assert.Equal(16, job.SequencesPerStep);
    }

    /// <summary>Minimal job with the given top-level sections replaced (or added).</summary>
    private static string Merge(string patch)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(Minimal)!.AsObject();
        foreach (var (key, value) in System.Text.Json.Nodes.JsonNode.Parse(patch)!.AsObject().ToList())
            root[key] = value?.DeepClone();
        return root.ToJsonString();
    }
}
