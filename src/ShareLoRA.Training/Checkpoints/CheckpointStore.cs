using System.Diagnostics;
using System.Globalization;
using System.Text;
using ShareLoRA.Model.IO;
using ShareLoRA.Training.Jobs;
using Serilog;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// The checkpoints of one run, in RUN/checkpoints/step-NNNNNN/. A save writes every file into a temp folder, fsyncs
/// them, writes manifest.json last and commits by renaming the folder into place, so a crash leaves either the previous
/// checkpoints untouched or a complete new one, never a half-written "step-" folder. Loading takes the newest checkpoint
/// whose manifest and SHA-256 checksums hold, logging one line for each newer one it skips. Pruning keeps the newest
/// <see cref="Keep"/> valid checkpoints (plus the best by eval loss, marked in checkpoints/best.json) and never deletes an
/// invalid one: that is evidence. No Akka and no training state: the trainer and the coordinator both use it.
/// </summary>
public sealed class CheckpointStore
{
    private readonly ILogger _log;
    private readonly TimeProvider _time;

    /// <param name="runDir">The run folder (the job's "output"); checkpoints go to its "checkpoints" subfolder.</param>
    /// <param name="keep">Valid checkpoints to keep when pruning after a save (>= 1).</param>
    /// <param name="log">Where save, prune and skip lines go; defaults to Serilog's global logger.</param>
    /// <param name="time">Clock for created_utc (tests pin it).</param>
    public CheckpointStore(string runDir, int keep = CheckpointConfig.DefaultKeep, ILogger? log = null, TimeProvider? time = null)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), keep, "checkpoint keep must be >= 1 (the newest valid checkpoint is never pruned)");
        RunDirectory = Path.GetFullPath(runDir);
        CheckpointsDirectory = Path.Combine(RunDirectory, "checkpoints");
        Keep = keep;
        _log = (log ?? Log.Logger).ForContext<CheckpointStore>();
        _time = time ?? TimeProvider.System;
    }

    public string RunDirectory { get; }
    public string CheckpointsDirectory { get; }
    public int Keep { get; }

    /// <summary>RUN/checkpoints/best.json (see <see cref="BestCheckpoint"/>).</summary>
    public string BestFile => Path.Combine(CheckpointsDirectory, BestCheckpoint.FileName);

    /// <summary>
    /// The checkpoint marked best by eval loss, or null when no checkpoint has a finite eval loss yet, or the marker is
    /// unreadable or names a folder that is gone (it is rewritten from the checkpoints' manifests at the next save).
    /// </summary>
    public BestCheckpoint? Best()
    {
        if (!File.Exists(BestFile)) return null;
        try
        {
            var best = BestCheckpoint.Parse(File.ReadAllText(BestFile, Encoding.UTF8), BestFile);
            return Directory.Exists(Path.Combine(CheckpointsDirectory, best.Folder)) ? best : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            _log.Warning("{File:l} ignored: {Message:l}", BestFile, e.Message);
            return null;
        }
    }

    /// <summary>Full path of the folder a step is (or would be) committed to.</summary>
    public string PathOf(long step) => Path.Combine(CheckpointsDirectory, CheckpointNames.Folder(step));

    /// <summary>
    /// Writes and commits one checkpoint, then prunes. A step already committed and valid is refused; an invalid one
    /// in the way (e.g. the corrupt checkpoint a resumed run skipped) is moved aside to ".invalid-step-NNNNNN-TIME",
    /// not deleted. A second save of a step while one is in progress is refused at once.
    /// </summary>
    /// <exception cref="ArgumentException">The content is malformed (bad file name, job JSON not an object, ...).</exception>
    /// <exception cref="CheckpointException">The step is being saved elsewhere or is already saved.</exception>
    public CheckpointSaveResult Save(CheckpointContent content)
    {
        Validate(content);
        var clock = Stopwatch.StartNew();
        var name = CheckpointNames.Folder(content.Step);
        var final = PathOf(content.Step);
        Directory.CreateDirectory(CheckpointsDirectory);
        long bytes;
        using (var claim = StepLock.TryAcquire(CheckpointsDirectory, content.Step))
        {
            if (claim is null)
                throw new CheckpointException($"{final}: checkpoint {name} is already being saved (by this or another process); a step is saved once");
            if (Directory.Exists(final)) SetAsideOrRefuse(final, name);

            var temp = Path.Combine(CheckpointsDirectory, CheckpointNames.Temp(content.Step));
            Directory.CreateDirectory(temp);
            try
            {
                bytes = WriteFolder(temp, content);
                FileDurability.FlushDirectory(temp);
                try { Directory.Move(temp, final); }
                catch (IOException e) when (Directory.Exists(final))
                {
                    throw new CheckpointException($"{final}: checkpoint {name} appeared while this save was writing; a step is saved once", e);
                }
            }
            catch
            {
                TryDeleteFolder(temp);
                throw;
            }
            FileDurability.FlushDirectory(CheckpointsDirectory);
        }
        var writeMs = clock.Elapsed.TotalMilliseconds;
        _log.Information("checkpoint {Checkpoint:l} saved: {Bytes} bytes in {WriteMs:0} ms", name, bytes, writeMs);

        clock.Restart();
        IReadOnlyList<long> pruned = [];
        try { pruned = PruneAndClean(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The checkpoint is committed; failing to tidy up older ones must not fail the save.
            _log.Warning(e, "pruning {Folder:l} failed after saving {Checkpoint:l}: {Message:l}", CheckpointsDirectory, name, e.Message);
        }
        return new CheckpointSaveResult(content.Step, final, bytes, writeMs, clock.Elapsed.TotalMilliseconds, pruned);
    }

    /// <summary>
    /// The newest valid checkpoint, or null when there is none. Each newer invalid one is skipped with one warning line
    /// naming it, the file and the reason, and the checkpoint used instead; it is left in place. Temp folders of
    /// interrupted saves are ignored, and removed when older than the checkpoint returned.
    /// </summary>
    public LoadedCheckpoint? LoadLatestValid(ILogger? log = null)
    {
        var logger = log ?? _log;
        var skipped = new List<(string Name, string Reason)>();
        foreach (var (step, dir) in Committed().OrderByDescending(c => c.Step))
        {
            var verification = Verify(dir);
            if (!verification.IsValid)
            {
                skipped.Add((Path.GetFileName(dir), verification.Reason!));
                continue;
            }
            var name = Path.GetFileName(dir);
            foreach (var s in skipped)
                logger.Warning("checkpoint {Checkpoint:l} skipped: {Reason:l}; using {Fallback:l}", s.Name, s.Reason, name);
            try { CleanStaleFolders(step); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.Warning("could not remove stale folders in {Folder:l}: {Message:l}", CheckpointsDirectory, e.Message);
            }
            return new LoadedCheckpoint(dir, verification.Manifest!);
        }
        foreach (var s in skipped)
            logger.Warning("checkpoint {Checkpoint:l} skipped: {Reason:l}; no valid checkpoint left", s.Name, s.Reason);
        return null;
    }

    /// <summary>One named step, verified.</summary>
    /// <exception cref="CheckpointException">The step has no checkpoint or it is invalid (the message says why).</exception>
    public LoadedCheckpoint Load(long step)
    {
        var dir = PathOf(step);
        if (!Directory.Exists(dir)) throw new CheckpointException($"{dir}: no checkpoint for step {step}");
        var verification = Verify(dir);
        if (!verification.IsValid) throw new CheckpointException($"{dir}: checkpoint is invalid: {verification.Reason}");
        return new LoadedCheckpoint(dir, verification.Manifest!);
    }

    /// <summary>
    /// Checks one checkpoint folder: manifest present and well-formed, its step matching the folder name, and every
    /// listed file present with the recorded size and SHA-256 (sizes first, so a truncated file fails fast).
    /// </summary>
    public static CheckpointVerification Verify(string directory)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (!Directory.Exists(directory)) return CheckpointVerification.Invalid("folder not found");
        var manifestPath = Path.Combine(directory, CheckpointFiles.Manifest);
        if (!File.Exists(manifestPath)) return CheckpointVerification.Invalid($"{CheckpointFiles.Manifest} missing (interrupted save?)");

        CheckpointManifest manifest;
        try { manifest = CheckpointManifest.Parse(File.ReadAllText(manifestPath, Encoding.UTF8), CheckpointFiles.Manifest); }
        catch (InvalidDataException e) { return CheckpointVerification.Invalid(e.Message); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CheckpointVerification.Invalid($"{CheckpointFiles.Manifest} unreadable ({e.Message})");
        }

        if (CheckpointNames.TryParseFolder(name, out var folderStep) && folderStep != manifest.Step)
            return CheckpointVerification.Invalid($"{CheckpointFiles.Manifest} says step {manifest.Step} but the folder is {name}", manifest);
        try
        {
            foreach (var f in manifest.Files)
            {
                var info = new FileInfo(Path.Combine(directory, f.Name));
                if (!info.Exists) return CheckpointVerification.Invalid($"{f.Name} missing", manifest);
                if (info.Length != f.Bytes)
                    return CheckpointVerification.Invalid($"{f.Name} is {info.Length} bytes, manifest says {f.Bytes} (truncated or replaced)", manifest);
            }
            foreach (var f in manifest.Files)
            {
                var found = FileSha256.Of(Path.Combine(directory, f.Name));
                if (found != f.Sha256)
                    return CheckpointVerification.Invalid(
                        $"{f.Name} sha256 mismatch (expected {FileSha256.Short(f.Sha256)}, found {FileSha256.Short(found)})", manifest);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CheckpointVerification.Invalid($"cannot read a file ({e.Message})", manifest);
        }
        return CheckpointVerification.Valid(manifest);
    }

    /// <summary>Every committed checkpoint folder, oldest step first, each verified (checksums included).</summary>
    public IReadOnlyList<CheckpointInfo> List() =>
        Committed().OrderBy(c => c.Step).Select(c =>
        {
            var verification = Verify(c.Directory);
            return new CheckpointInfo(c.Step, c.Directory, verification.Manifest?.CreatedUtc, FolderBytes(c.Directory), verification);
        }).ToList();

    /// <summary>Null when <paramref name="name"/> can be a file in a checkpoint folder, otherwise why not.</summary>
    internal static string? FileNameProblem(string name) =>
        string.IsNullOrEmpty(name) ? "file name must not be empty"
        : name.Length > 255 ? $"file name '{name[..40]}...' is longer than 255 characters"
        : name.IndexOfAny(['/', '\\', '\0']) >= 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 ? $"'{name}' must be a plain file name, not a path"
        : name.StartsWith('.') ? $"file name '{name}' must not start with '.'"
        : name == CheckpointFiles.Manifest ? $"'{name}' is reserved for the manifest"
        : null;

    private static void Validate(CheckpointContent c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Step < 0) throw new ArgumentException($"checkpoint step must be >= 0 (got {c.Step})");
        if (c.DataCursor is null || c.DataCursor.Epoch < 0 || c.DataCursor.Position < 0)
            throw new ArgumentException($"checkpoint data cursor must be non-negative (got {c.DataCursor?.ToString() ?? "null"})");
        if (c.Rng is null || c.Rng.Scheme != CheckpointRngState.CounterScheme)
            throw new ArgumentException($"checkpoint rng scheme must be \"{CheckpointRngState.CounterScheme}\" (got {c.Rng?.Scheme ?? "null"})");
        CheckpointManifestJson.ParseJob(c.JobJson ?? throw new ArgumentException("checkpoint job JSON is missing"));
        if (c.Plan is null) throw new ArgumentException("checkpoint plan is missing");
        if (c.Plan.Problem() is { } planProblem) throw new ArgumentException("checkpoint plan: " + planProblem);
        if (c.Metrics is null) throw new ArgumentException("checkpoint metrics are missing (use CheckpointMetrics.None)");
        if (c.TensorFiles is null) throw new ArgumentException("checkpoint tensor files are missing");
        foreach (var (file, tensors) in c.TensorFiles)
        {
            if (FileNameProblem(file) is { } problem) throw new ArgumentException("checkpoint file: " + problem);
            if (tensors is null) throw new ArgumentException($"checkpoint file '{file}': tensor dictionary is null");
            foreach (var (name, t) in tensors)
            {
                if (t is null || t.IsInvalid) throw new ArgumentException($"checkpoint file '{file}': tensor '{name}' is null or disposed");
                if (!SafetensorsDType.TryToScalarType(StoredDType(t.dtype), out _))
                    throw new ArgumentException($"checkpoint file '{file}': tensor '{name}' has dtype {t.dtype}, which safetensors cannot hold");
            }
        }
    }

    private static string StoredDType(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32", ScalarType.Float64 => "F64", ScalarType.Float16 or ScalarType.BFloat16 => "F32",
        ScalarType.Int64 => "I64", ScalarType.Int32 => "I32", ScalarType.Int16 => "I16", ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8", ScalarType.Bool => "BOOL", _ => "",
    };

    /// <summary>Writes the tensor files (each flushed and hashed) and then the manifest; returns the bytes written.</summary>
    private long WriteFolder(string folder, CheckpointContent content)
    {
        var entries = new List<CheckpointFileEntry>();
        var metadata = new Dictionary<string, string>
        {
            ["format"] = CheckpointManifest.Format,
            ["step"] = content.Step.ToString(CultureInfo.InvariantCulture),
        };
        var created = _time.GetUtcNow();
        foreach (var (file, tensors) in content.TensorFiles)
        {
            var path = Path.Combine(folder, file);
            WriteTensorFile(path, tensors, metadata);
            FileDurability.FlushFile(path);
            entries.Add(new CheckpointFileEntry(file, new FileInfo(path).Length, FileSha256.Of(path)));
        }

        var manifest = new CheckpointManifest(content.Step, created, content.DataCursor, content.Rng,
            CheckpointManifestJson.ParseJob(content.JobJson).ToJsonString(CheckpointManifestJson.Indented),
            content.Plan, entries, content.Metrics);
        var manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJson());
        using (var stream = new FileStream(Path.Combine(folder, CheckpointFiles.Manifest), FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(manifestBytes);
            stream.Flush(flushToDisk: true);
        }
        return entries.Sum(e => e.Bytes) + manifestBytes.Length;
    }

    /// <summary>
    /// One safetensors file. Half-precision tensors are widened to fp32 copies first (lossless; the writer takes dtypes
    /// from the tensors it is given); everything else goes to the writer as is, which copies one tensor at a time to
    /// the CPU. Nothing is kept once this returns.
    /// </summary>
    private static void WriteTensorFile(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var widened = new List<Tensor>();
        try
        {
            var items = new List<KeyValuePair<string, Tensor>>(tensors.Count);
            foreach (var (name, t) in tensors)
            {
                if (t.dtype is ScalarType.BFloat16 or ScalarType.Float16)
                {
                    using var detached = t.detach();
                    var wide = detached.to(ScalarType.Float32, CPU);
                    widened.Add(wide);
                    items.Add(new(name, wide));
                }
                else items.Add(new(name, t));
            }
            SafetensorsWriter.Write(path, items, metadata);
        }
        finally
        {
            foreach (var t in widened) t.Dispose();
        }
    }

    private void SetAsideOrRefuse(string final, string name)
    {
        var existing = Verify(final);
        if (existing.IsValid)
            throw new CheckpointException($"{final}: checkpoint {name} already exists and is valid; a step is saved once (delete the folder to save it again)");
        var step = long.Parse(name.AsSpan("step-".Length), CultureInfo.InvariantCulture);
        var aside = Path.Combine(CheckpointsDirectory, CheckpointNames.Invalid(step, _time.GetUtcNow()));
        Directory.Move(final, aside);
        _log.Warning("checkpoint {Checkpoint:l} is invalid ({Reason:l}); moved aside to {Aside:l}, not deleted, so the step can be saved again",
            name, existing.Reason, Path.GetFileName(aside));
    }

    /// <summary>
    /// Deletes valid checkpoints beyond the newest <see cref="Keep"/> (keeping also the best by eval loss), logs the
    /// invalid ones it leaves, and removes stale temp folders. Returns the pruned steps.
    /// </summary>
    private List<long> PruneAndClean()
    {
        var all = Committed().OrderByDescending(c => c.Step).Select(c => (c.Step, c.Directory, Check: Verify(c.Directory))).ToList();
        var valid = all.Where(c => c.Check.IsValid).ToList();
        var keep = valid.Take(Keep).Select(c => c.Step).ToHashSet();
        // On equal losses the older checkpoint stays best: the marker moves only for a strictly better eval loss.
        var best = valid.Where(c => c.Check.Manifest!.Metrics.EvalLoss is { } l && double.IsFinite(l))
            .OrderBy(c => c.Check.Manifest!.Metrics.EvalLoss).ThenBy(c => c.Step)
            .Select(c => new BestCheckpoint(c.Step, c.Check.Manifest!.Metrics.EvalLoss!.Value, Path.GetFileName(c.Directory)))
            .FirstOrDefault();
        if (best is not null) keep.Add(best.Step);

        var pruned = new List<long>();
        foreach (var c in valid.Where(c => !keep.Contains(c.Step)))
        {
            // Renamed away first so a crash mid-delete never leaves a half-deleted "step-" folder that looks corrupt.
            var doomed = Path.Combine(CheckpointsDirectory, CheckpointNames.Deleting(c.Step));
            Directory.Move(c.Directory, doomed);
            pruned.Add(c.Step);
            _log.Information("checkpoint {Checkpoint:l} pruned (keeping the newest {Keep} valid)", Path.GetFileName(c.Directory), Keep);
            TryDeleteFolder(doomed);
        }
        foreach (var c in all.Where(c => !c.Check.IsValid))
            _log.Warning("checkpoint {Checkpoint:l} is invalid ({Reason:l}); left in place for inspection, never pruned automatically",
                Path.GetFileName(c.Directory), c.Check.Reason);
        if (valid.Count > 0) CleanStaleFolders(valid[0].Step);
        MarkBest(best);
        return pruned;
    }

    /// <summary>
    /// Rewrites best.json when the best checkpoint changed (write to a temp file, fsync, rename over the old one), or
    /// removes it when no valid checkpoint has a finite eval loss any more. Called after pruning, which keeps the best.
    /// </summary>
    private void MarkBest(BestCheckpoint? best)
    {
        if (best is null)
        {
            if (File.Exists(BestFile)) File.Delete(BestFile);
            return;
        }
        BestCheckpoint? current = null;
        try { if (File.Exists(BestFile)) current = BestCheckpoint.Parse(File.ReadAllText(BestFile, Encoding.UTF8), BestFile); }
        catch (InvalidDataException) { /* rewritten below */ }
        if (current == best) return;
        var temp = Path.Combine(CheckpointsDirectory, $".{BestCheckpoint.FileName}.tmp-{Guid.NewGuid():N}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(Encoding.UTF8.GetBytes(best.ToJson()));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, BestFile, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        FileDurability.FlushDirectory(CheckpointsDirectory);
        _log.Information("checkpoint {Checkpoint:l} is the best so far (eval loss {EvalLoss:0.000000}); marked in {File:l}",
            best.Folder, best.EvalLoss, BestCheckpoint.FileName);
    }

    /// <summary>
    /// Removes leftovers of interrupted prunes, and temp folders of interrupted saves whose step is not newer than
    /// <paramref name="newestValidStep"/> (a temp folder of a newer step may be a save still in progress) and whose
    /// step no running save holds.
    /// </summary>
    private void CleanStaleFolders(long newestValidStep)
    {
        if (!Directory.Exists(CheckpointsDirectory)) return;
        foreach (var dir in Directory.EnumerateDirectories(CheckpointsDirectory))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith(CheckpointNames.DeletingPrefix, StringComparison.Ordinal))
            {
                TryDeleteFolder(dir);
                continue;
            }
            if (!CheckpointNames.TryParseTemp(name, out var step) || step > newestValidStep) continue;
            using var claim = StepLock.TryAcquire(CheckpointsDirectory, step);
            if (claim is null) continue;
            if (TryDeleteFolder(dir))
                _log.Information("removed {Temp:l}, left by an interrupted save (older than the newest valid checkpoint)", name);
        }
    }

    private IEnumerable<(long Step, string Directory)> Committed()
    {
        if (!Directory.Exists(CheckpointsDirectory)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(CheckpointsDirectory))
            if (CheckpointNames.TryParseFolder(Path.GetFileName(dir), out var step))
                yield return (step, dir);
    }

    private static long FolderBytes(string dir)
    {
        try { return new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    private bool TryDeleteFolder(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("could not delete {Folder:l}: {Message:l}", dir, e.Message);
            return false;
        }
    }
}
