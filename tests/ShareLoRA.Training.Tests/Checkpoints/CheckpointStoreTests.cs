using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Checkpoints;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly CheckpointTestRun _run = new();

    public void Dispose() => _run.Dispose();

    private static bool SameBits(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void SaveThenLoadRoundTripsTensorsAndManifestFieldsBitwise()
    {
        var created = new DateTimeOffset(2026, 11, 28, 16, 20, 1, TimeSpan.Zero).AddTicks(1234567);
        var store = _run.Store(time: new FixedTime(created));
        var (content, owned) = CheckpointTestRun.Content(200, evalLoss: 0.75);
        using var special = tensor(new[] { float.NaN, -0f, float.PositiveInfinity, float.Epsilon, 1e-45f });
        using var half = randn([3, 5]).to(ScalarType.BFloat16);
        using var counts = tensor(new long[] { long.MinValue, 0, long.MaxValue });
        content = content with
        {
            Metrics = new CheckpointMetrics(double.NaN, 0.1 + 0.2),
            TensorFiles = new Dictionary<string, IReadOnlyDictionary<string, Tensor>>(content.TensorFiles)
            {
                ["extra.safetensors"] = new Dictionary<string, Tensor> { ["special"] = special, ["half"] = half, ["counts"] = counts },
            },
        };
        // What the tensors held at save time, copied before the originals are disposed.
        var expected = content.TensorFiles.ToDictionary(f => f.Key, f => f.Value.ToDictionary(t => t.Key, t => t.Value.clone()));
        var result = store.Save(content);
        foreach (var t in owned) t.Dispose(); // the store keeps no reference

        Assert.Equal(_run.Folder(200), result.Directory);
        Assert.Equal(200, result.Step);
        long onDisk = Directory.EnumerateFiles(result.Directory).Sum(f => new FileInfo(f).Length);
        Assert.Equal(onDisk, result.BytesWritten);
        Assert.True(result.WriteMs >= 0 && result.PruneMs >= 0);

        using var loaded = store.LoadLatestValid();
        Assert.NotNull(loaded);
        Assert.Equal(200, loaded.Step);
        Assert.Equal(created, loaded.CreatedUtc);
        Assert.Equal(created.UtcTicks, loaded.CreatedUtc.UtcTicks);
        Assert.Equal(new DataCursor(2, 0), loaded.DataCursor);
        Assert.Equal(new CheckpointRngState(7, 200), loaded.Rng);
        Assert.Equal(CheckpointTestRun.JobJson, loaded.JobJson); // exact text JobConfig.ToJson gave
        Assert.Equal(CheckpointTestRun.JobJson, JobConfig.Parse(loaded.JobJson, "checkpoint", "/elsewhere").ToJson());
        Assert.Equal((2, "1f1b", 4), (loaded.Plan.Stages, loaded.Plan.Schedule, loaded.Plan.MicroBatches));
        Assert.Equal([1, 1], loaded.Plan.LayersPerStage);
        Assert.True(double.IsNaN(loaded.Metrics.LastLoss!.Value));
        Assert.Equal(BitConverter.DoubleToInt64Bits(0.1 + 0.2), BitConverter.DoubleToInt64Bits(loaded.Metrics.EvalLoss!.Value));
        Assert.Equal([CheckpointFiles.Adapter, CheckpointFiles.Optimizer, "extra.safetensors"], loaded.Files);

        foreach (var (file, tensors) in expected)
        {
            Assert.Equal(tensors.Keys, loaded.TensorNames(file)); // file order = dictionary order
            foreach (var (name, want) in tensors)
            {
                using var got = loaded.Read(file, name);
                // Half precision is widened to fp32 on save (lossless): compare against the widened original.
                using var wantStored = want.dtype == ScalarType.BFloat16 ? want.to(ScalarType.Float32) : want.alias();
                Assert.True(SameBits(wantStored, got), $"{file}/{name} differs after the round trip");
                want.Dispose();
            }
        }
    }

    [Fact]
    public void ManifestHasTheDocumentedFieldsAndEachFilesSha256()
    {
        var store = _run.Store();
        _run.Save(store, 100);
        var dir = _run.Folder(100);
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")))!.AsObject();
        Assert.Equal(["format", "version", "step", "created_utc", "data_cursor", "rng", "job", "plan", "files", "metrics"],
            root.Select(p => p.Key));
        Assert.Equal("sharelora-checkpoint", (string?)root["format"]);
        Assert.Equal(1, (int)root["version"]!);
        Assert.Equal(100, (long)root["step"]!);
        Assert.Equal((1, 0), ((int)root["data_cursor"]!["epoch"]!, (int)root["data_cursor"]!["position"]!));
        Assert.Equal((7L, 100L), ((long)root["rng"]!["run_seed"]!, (long)root["rng"]!["step"]!));
        Assert.Equal(JsonValueKind.Object, root["job"]!.GetValueKind());
        Assert.Equal(7, (long)root["job"]!["seed"]!);
        Assert.Equal([1, 1], root["plan"]!["layers_per_stage"]!.AsArray().Select(n => (int)n!));
        Assert.Equal(1.0 / 103, (double)root["metrics"]!["last_loss"]!);
        var files = root["files"]!.AsArray();
        Assert.Equal(2, files.Count);
        foreach (var f in files)
        {
            var path = Path.Combine(dir, (string)f!["name"]!);
            Assert.Equal(new FileInfo(path).Length, (long)f["bytes"]!);
            Assert.Equal(Sha256(path), (string?)f["sha256"]);
        }
        Assert.DoesNotContain(Directory.EnumerateDirectories(_run.CheckpointsDir), d => Path.GetFileName(d).StartsWith('.'));
        Assert.Empty(Directory.EnumerateFiles(_run.CheckpointsDir)); // the step lock file is gone
    }

    [Fact]
    public void KeepTwoPrunesOlderCheckpoints()
    {
        var store = _run.Store(keep: 2);
        _run.Save(store, 100, 200);
        var (content, owned) = CheckpointTestRun.Content(300);
        var result = store.Save(content);
        foreach (var t in owned) t.Dispose();

        Assert.Equal([100L], result.Pruned);
        Assert.Equal([200L, 300L], store.List().Select(c => c.Step));
        Assert.False(Directory.Exists(_run.Folder(100)));
        Assert.Contains("checkpoint step-000100 pruned (keeping the newest 2 valid)", _run.AllLines);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_run.CheckpointsDir), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void PruningAlsoKeepsTheBestCheckpointByEvalLoss()
    {
        var store = _run.Store(keep: 2);
        foreach (var (step, eval) in new[] { (100L, 0.5), (200L, 0.9), (300L, 0.8), (400L, 1.0) })
        {
            var (content, owned) = CheckpointTestRun.Content(step, eval);
            store.Save(content);
            foreach (var t in owned) t.Dispose();
        }
        Assert.Equal([100L, 300L, 400L], store.List().Select(c => c.Step));
    }

    [Fact]
    public void BestJsonMarksTheLowestFiniteEvalLossAndNeverAPrunedFolder()
    {
        var store = _run.Store(keep: 1);
        Assert.Null(store.Best());
        var bestFile = Path.Combine(_run.CheckpointsDir, "best.json");
        // 100 has no eval loss, 200 is the first finite one, 300 is worse, 400 is NaN, 500 ties 200, 600 is better.
        var expected = new List<(long Step, double? Eval, long? Best)>
        {
            (100, null, null), (200, 0.7, 200), (300, 0.9, 200), (400, double.NaN, 200), (500, 0.7, 200), (600, 0.25, 600), (700, 0.5, 600),
        };
        foreach (var (step, eval, best) in expected)
        {
            var (content, owned) = CheckpointTestRun.Content(step, eval);
            store.Save(content);
            foreach (var t in owned) t.Dispose();
            var marked = store.Best();
            Assert.Equal(best, marked?.Step);
            Assert.Equal(best is not null, File.Exists(bestFile));
            if (marked is null) continue;
            Assert.Equal($"step-{best:D6}", marked.Folder);
            Assert.True(Directory.Exists(_run.Folder(marked.Step)), $"best.json names {marked.Folder}, which was pruned");
            Assert.Equal(expected.Single(e => e.Step == best).Eval, marked.EvalLoss);
            using var doc = JsonDocument.Parse(File.ReadAllText(bestFile));
            Assert.Equal(["step", "eval_loss", "folder"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        }
        // keep 1: only the newest and the best survive.
        Assert.Equal([600L, 700L], store.List().Select(c => c.Step));
        Assert.DoesNotContain(Directory.EnumerateFiles(_run.CheckpointsDir), f => Path.GetFileName(f).Contains(".tmp"));
        Assert.Single(_run.AllLines, l => l.Contains("checkpoint step-000600 is the best so far (eval loss 0.250000); marked in best.json"));
    }

    [Fact]
    public void BestJsonIsRemovedWhenNoValidCheckpointHasAnEvalLossAndAnUnreadableOneIsIgnored()
    {
        var store = _run.Store(keep: 5);
        var (content, owned) = CheckpointTestRun.Content(100, 0.5);
        store.Save(content);
        foreach (var t in owned) t.Dispose();
        Assert.Equal(100, store.Best()?.Step);

        File.WriteAllText(store.BestFile, "{ \"step\": 100 }");
        Assert.Null(store.Best());
        Assert.Contains(_run.Warnings, w => w.Contains("best.json ignored: ") && w.Contains("field 'eval_loss' is missing"));

        // The only checkpoint with an eval loss becomes invalid: the next save finds no best and drops the marker.
        File.Delete(Path.Combine(_run.Folder(100), "adapter.safetensors"));
        (content, owned) = CheckpointTestRun.Content(200);
        store.Save(content);
        foreach (var t in owned) t.Dispose();
        Assert.False(File.Exists(store.BestFile));
        Assert.Null(store.Best());
    }

    public static TheoryData<string> Corruptions => ["flip a tensor byte", "truncate the manifest", "delete a file", "wrong size in the manifest"];

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void CorruptNewestIsSkippedWithOneLineAndKept(string corruption)
    {
        var store = _run.Store(keep: 1);
        _run.Save(store, 100);
        var keepAll = _run.Store(keep: 5);
        _run.Save(keepAll, 200);
        var dir = _run.Folder(200);
        var adapter = Path.Combine(dir, "adapter.safetensors");
        var manifestPath = Path.Combine(dir, "manifest.json");
        string expectedReason;
        switch (corruption)
        {
            case "flip a tensor byte":
                var before = Sha256(adapter);
                var bytes = File.ReadAllBytes(adapter);
                bytes[^3] ^= 0x10; // inside the last tensor's data: the file still parses as safetensors
                File.WriteAllBytes(adapter, bytes);
                expectedReason = $"adapter.safetensors sha256 mismatch (expected {before[..12]}.., found {Sha256(adapter)[..12]}..)";
                break;
            case "truncate the manifest":
                var text = File.ReadAllBytes(manifestPath);
                File.WriteAllBytes(manifestPath, text[..(text.Length / 2)]);
                expectedReason = "manifest.json is not valid JSON (truncated?)";
                break;
            case "delete a file":
                File.Delete(Path.Combine(dir, "optimizer.safetensors"));
                expectedReason = "optimizer.safetensors missing";
                break;
            default:
                var root = JsonNode.Parse(File.ReadAllText(manifestPath))!;
                var entry = root["files"]!.AsArray().First(f => (string)f!["name"]! == "adapter.safetensors")!;
                long size = (long)entry["bytes"]!;
                entry["bytes"] = size + 1;
                File.WriteAllText(manifestPath, root.ToJsonString());
                expectedReason = $"adapter.safetensors is {size} bytes, manifest says {size + 1} (truncated or replaced)";
                break;
        }
        _run.ClearLog();

        using (var loaded = store.LoadLatestValid(_run.Log))
        {
            Assert.NotNull(loaded);
            Assert.Equal(100, loaded.Step);
        }
        var line = Assert.Single(_run.Warnings);
        Assert.StartsWith($"checkpoint step-000200 skipped: {expectedReason}", line);
        Assert.EndsWith("; using step-000100", line);
        Assert.False(CheckpointStore.Verify(dir).IsValid);
        Assert.True(Directory.Exists(dir));

        // keep=1 prunes step-000100 once step-000300 exists, but never the invalid step-000200.
        _run.Save(store, 300);
        Assert.True(Directory.Exists(dir));
        Assert.False(Directory.Exists(_run.Folder(100)));
        Assert.Contains(_run.Warnings, w => w.StartsWith("checkpoint step-000200 is invalid (") && w.EndsWith("left in place for inspection, never pruned automatically"));
        Assert.Equal([(200L, false), (300L, true)], store.List().Select(c => (c.Step, c.IsValid)));
    }

    [Fact]
    public void EveryCheckpointCorruptGivesNullAndSaysSo()
    {
        var store = _run.Store();
        _run.Save(store, 100);
        File.Delete(Path.Combine(_run.Folder(100), "manifest.json"));
        _run.ClearLog();
        Assert.Null(store.LoadLatestValid());
        Assert.Equal(["checkpoint step-000100 skipped: manifest.json missing (interrupted save?); no valid checkpoint left"], _run.Warnings);
        Assert.True(Directory.Exists(_run.Folder(100)));
    }

    [Fact]
    public void NoCheckpointGivesNull()
    {
        var store = _run.Store();
        Assert.Null(store.LoadLatestValid());
        Assert.Empty(store.List());
        Directory.CreateDirectory(_run.CheckpointsDir);
        Assert.Null(store.LoadLatestValid());
        Assert.Empty(_run.Warnings);
    }

    [Fact]
    public void InterruptedSaveTempFoldersAreIgnoredAndOnlyOlderOnesRemoved()
    {
        var store = _run.Store();
        _run.Save(store, 100);
        // Interrupted saves: files written, no manifest, never renamed.
        var newer = Path.Combine(_run.CheckpointsDir, $".tmp-step-000200-{Guid.NewGuid():N}");
        var older = Path.Combine(_run.CheckpointsDir, $".tmp-step-000050-{Guid.NewGuid():N}");
        foreach (var temp in new[] { newer, older })
        {
            Directory.CreateDirectory(temp);
            File.WriteAllBytes(Path.Combine(temp, "adapter.safetensors"), new byte[100]);
        }
        _run.ClearLog();

        using (var loaded = store.LoadLatestValid())
            Assert.Equal(100, loaded!.Step);
        Assert.Empty(_run.Warnings);
        Assert.True(Directory.Exists(newer)); // might be a save still running
        Assert.False(Directory.Exists(older));
        Assert.Equal([100L], store.List().Select(c => c.Step));

        _run.Save(store, 200); // step 200 is now committed, so its stale temp folder goes
        Assert.False(Directory.Exists(newer));
        Assert.True(CheckpointStore.Verify(_run.Folder(200)).IsValid);
    }

    [Fact]
    public void StepsPastSixDigitsSortAsNumbers()
    {
        var store = _run.Store(keep: 2);
        _run.Save(store, 1_000_000, 5, 999_999);
        Assert.True(Directory.Exists(Path.Combine(_run.CheckpointsDir, "step-1000000")));
        Assert.Equal([999_999L, 1_000_000L], store.List().Select(c => c.Step)); // 5 pruned, not 1000000
        using var loaded = store.LoadLatestValid();
        Assert.Equal(1_000_000, loaded!.Step);
        // A non-canonical spelling is not a checkpoint folder.
        Directory.CreateDirectory(Path.Combine(_run.CheckpointsDir, "step-0001000001"));
        Assert.Equal(2, store.List().Count);
    }

    [Fact]
    public void SaveOfAStepAlreadySavingIsRefused()
    {
        var store = _run.Store();
        Directory.CreateDirectory(_run.CheckpointsDir);
        // What another process's save of step 200 holds while it writes.
        using (new FileStream(Path.Combine(_run.CheckpointsDir, ".lock-step-000200"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var (content, owned) = CheckpointTestRun.Content(200);
            var e = Assert.Throws<CheckpointException>(() => store.Save(content));
            foreach (var t in owned) t.Dispose();
            Assert.Equal($"{_run.Folder(200)}: checkpoint step-000200 is already being saved (by this or another process); a step is saved once", e.Message);
        }
        Assert.False(Directory.Exists(_run.Folder(200)));
        _run.Save(store, 200); // the claim is released with its holder
        Assert.True(CheckpointStore.Verify(_run.Folder(200)).IsValid);
    }

    [Fact]
    public void TwoConcurrentSavesOfOneStepCommitOnceAndRefuseTheOther()
    {
        var store = _run.Store();
        var contents = Enumerable.Range(0, 2).Select(_ => CheckpointTestRun.Content(300)).ToList();
        using var start = new Barrier(2);
        var outcomes = new Exception?[2];
        var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            try { store.Save(contents[i].Content); }
            catch (Exception e) { outcomes[i] = e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        foreach (var t in contents.SelectMany(c => c.Owned)) t.Dispose();

        Assert.Single(outcomes, o => o is null);
        var refused = Assert.IsType<CheckpointException>(Assert.Single(outcomes, o => o is not null));
        Assert.Contains("checkpoint step-000300", refused.Message);
        Assert.True(CheckpointStore.Verify(_run.Folder(300)).IsValid);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_run.CheckpointsDir), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void SavingAValidStepAgainIsRefused()
    {
        var store = _run.Store();
        _run.Save(store, 100);
        var e = Assert.Throws<CheckpointException>(() => _run.Save(store, 100));
        Assert.Equal($"{_run.Folder(100)}: checkpoint step-000100 already exists and is valid; a step is saved once (delete the folder to save it again)", e.Message);
    }

    [Fact]
    public void SavingOverAnInvalidStepMovesItAsideInsteadOfDeletingIt()
    {
        var store = _run.Store();
        _run.Save(store, 100, 200);
        File.Delete(Path.Combine(_run.Folder(200), "adapter.safetensors"));
        _run.ClearLog();

        _run.Save(store, 200); // a resumed run reaching step 200 again
        Assert.True(CheckpointStore.Verify(_run.Folder(200)).IsValid);
        var aside = Assert.Single(Directory.EnumerateDirectories(_run.CheckpointsDir, ".invalid-step-000200-*"));
        Assert.True(File.Exists(Path.Combine(aside, "manifest.json")));
        Assert.Contains(_run.Warnings, w => w.StartsWith("checkpoint step-000200 is invalid (adapter.safetensors missing); moved aside to .invalid-step-000200-"));
    }

    [Fact]
    public void VerifyNamesTheProblem()
    {
        var store = _run.Store();
        _run.Save(store, 100);
        var dir = _run.Folder(100);
        Assert.True(CheckpointStore.Verify(dir).IsValid);
        Assert.Equal("folder not found", CheckpointStore.Verify(Path.Combine(_run.RunDir, "nope")).Reason);

        var manifestPath = Path.Combine(dir, "manifest.json");
        var original = File.ReadAllText(manifestPath);
        void Expect(string reason, Func<JsonNode, JsonNode> edit)
        {
            File.WriteAllText(manifestPath, edit(JsonNode.Parse(original)!).ToJsonString());
            Assert.Equal(reason, CheckpointStore.Verify(dir).Reason);
        }
        Expect("manifest.json says step 7 but the folder is step-000100", r => { r["step"] = 7; return r; });
        Expect("manifest.json: format must be \"sharelora-checkpoint\" (got \"other\")", r => { r["format"] = "other"; return r; });
        Expect("manifest.json: version must be 1 (got 2); written by a newer ShareLoRA?", r => { r["version"] = 2; return r; });
        Expect("manifest.json: data_cursor.position missing", r => { r["data_cursor"]!.AsObject().Remove("position"); return r; });
        Expect("manifest.json: files[0].name: '../x' must be a plain file name, not a path", r => { r["files"]![0]!["name"] = "../x"; return r; });
        Expect("manifest.json: plan.layers_per_stage must have 2 values (got 1)", r => { r["plan"]!["layers_per_stage"] = new JsonArray(2); return r; });
    }

    [Fact]
    public void MalformedContentIsRejectedBeforeWriting()
    {
        var store = _run.Store();
        var (content, owned) = CheckpointTestRun.Content(100);
        using var t = zeros(2);
        var e = Assert.Throws<ArgumentException>(() => store.Save(content with
        {
            TensorFiles = new Dictionary<string, IReadOnlyDictionary<string, Tensor>> { ["../escape.safetensors"] = new Dictionary<string, Tensor> { ["t"] = t } },
        }));
        Assert.Equal("checkpoint file: '../escape.safetensors' must be a plain file name, not a path", e.Message);
        e = Assert.Throws<ArgumentException>(() => store.Save(content with { JobJson = "[1]" }));
        Assert.Equal("checkpoint job JSON must be an object (pass JobConfig.ToJson())", e.Message);
        e = Assert.Throws<ArgumentException>(() => store.Save(content with { Step = -1 }));
        Assert.Equal("checkpoint step must be >= 0 (got -1)", e.Message);
        using var complex = zeros(2, dtype: ScalarType.ComplexFloat32);
        e = Assert.Throws<ArgumentException>(() => store.Save(content with
        {
            TensorFiles = new Dictionary<string, IReadOnlyDictionary<string, Tensor>> { ["c.safetensors"] = new Dictionary<string, Tensor> { ["z"] = complex } },
        }));
        Assert.Equal("checkpoint file 'c.safetensors': tensor 'z' has dtype ComplexFloat32, which safetensors cannot hold", e.Message);
        foreach (var x in owned) x.Dispose();
        Assert.False(Directory.Exists(_run.CheckpointsDir) && Directory.EnumerateFileSystemEntries(_run.CheckpointsDir).Any());
    }

    [Fact]
    public void OptimizerStateRestoredFromACheckpointContinuesBitwiseLikeTheOriginal()
    {
        // Two steps of AdamW, checkpoint, then one more step on the original and on a fresh optimizer resumed from disk.
        using var p = randn([6, 3], generator: new Generator(5)).requires_grad_(true);
        using var pResumed = p.detach().clone().requires_grad_(true);
        var settings = new AdamWSettings(LearningRate: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01);
        using var original = new AdapterAdamW([("w", p)], settings);
        for (int i = 0; i < 2; i++)
        {
            using var g = full([6, 3], 0.1f * (i + 1));
            original.Step(new Dictionary<string, Tensor> { ["w"] = g });
        }
        var state = original.ExportState();
        var tensors = AdamWStateTensors.ToTensors(state);
        using (no_grad()) pResumed.copy_(p);
        var (content, owned) = CheckpointTestRun.Content(2);
        var store = _run.Store();
        store.Save(content with
        {
            TensorFiles = new Dictionary<string, IReadOnlyDictionary<string, Tensor>>
            {
                [CheckpointFiles.Adapter] = new Dictionary<string, Tensor> { ["w"] = p },
                [CheckpointFiles.Optimizer] = tensors,
            },
        });
        foreach (var t in owned.Concat(tensors.Values)) t.Dispose();
        foreach (var st in state.Values) st.Dispose();

        using var loaded = store.LoadLatestValid()!;
        using var resumed = new AdapterAdamW([("w", pResumed)], settings);
        var restored = loaded.ReadOptimizerState(CheckpointFiles.Optimizer);
        Assert.Equal(2, restored["w"].Step);
        resumed.ImportState(restored);
        foreach (var st in restored.Values) st.Dispose();
        using (var w = loaded.Read(CheckpointFiles.Adapter, "w"))
            Assert.True(SameBits(w, p.detach()));

        using var g3 = full([6, 3], -0.3f);
        original.Step(new Dictionary<string, Tensor> { ["w"] = g3 });
        resumed.Step(new Dictionary<string, Tensor> { ["w"] = g3 });
        Assert.True(SameBits(p.detach(), pResumed.detach()));
    }
}
