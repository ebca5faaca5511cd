using Akka.Actor;
using Akka.Event;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Jobs;

namespace ShareLoRA.Cluster.Coordination;

// The coordinator's side of its durable state (docs/PERSISTENCE.md): reading it on start and resuming the job that was
// active, and recording a job's acceptance, each committed checkpoint and its end in the CoordinatorJournal child,
// going on only once the journal says the event is written. While a write is in flight every other message waits in
// the stash, so nothing is decided on a state the database does not hold yet.
public sealed partial class Coordinator
{
    private IActorRef _journal = ActorRefs.Nobody;
    private Action<CoordinatorState>? _onRecorded;
    private Action<Exception>? _onJournalFailed;

    public IStash Stash { get; set; } = null!;

    // Child, watched: after a failed write Akka stops it (its state in the database is unknown).
    private void StartJournal()
    {
        _journal = Context.ActorOf(CoordinatorJournal.Props(), CoordinatorJournal.Name);
        Context.Watch(_journal);
        _journal.Tell(CoordinatorJournalProtocol.GetCoordinatorState.Instance);
    }

    // ---- start-up ----

    // Until the journal has answered: submissions wait (the job counter and the active job are not known yet),
    // membership is tracked, status answers.
    private void ReadingState()
    {
        Receive<CoordinatorState>(OnStateRead);
        Receive<CoordinatorProtocol.SubmitJob>(_ => Stash.Stash());
        CommonHandlers();
    }

    private void OnStateRead(CoordinatorState state)
    {
        _jobCounter = checked((int)state.JobCounter);
        _status = state.LastEnded is { } ended
            ? _status with { Message = $"no job running; the last one, {ended.JobId}, ended {ended.State}: {ended.Message}" }
            : _status with { Message = "no job submitted yet" };
        Stash.UnstashAll();
        if (state.ActiveJob is { } active) ResumeActive(active);
        else Become(Idle);
    }

    // The job was active when the previous coordinator stopped: continue it from its output's newest valid checkpoint
    // (or from step 0 when it has none), on whatever workers join; it is already recorded as accepted.
    private void ResumeActive(ActiveJobState active)
    {
        _log.Info("coordinator state: job {0} (output {1}) was active when the coordinator stopped, last recorded checkpoint {2}; resuming it",
            active.JobId, active.Output, active.LastCheckpointStep?.ToString() ?? "none");
        JobRun run;
        RestoredTrainingState? restore;
        try
        {
            var job = JobConfig.Parse(active.JobJson, $"coordinator state (job {active.JobId})", "/");
            (run, restore) = OpenRun(active.JobId, job, resume: true, requireCheckpoint: false);
        }
        catch (Exception e)
        {
            var reason = $"the coordinator could not resume job {active.JobId} after its restart: {e.Message.Split('\n')[0]}";
            _log.Error("{0}", reason);
            _status = new JobStatus(active.JobId, active.JobName, JobStatus.Failed, reason, 0, 0, null, 0, [], active.Output);
            RecordEnd(active.JobId, Failed);
            return;
        }
        if (restore is null)
            _log.Warning("job {0}: no valid checkpoint in {1}; it restarts from step 0", active.JobId, active.Output);
        else if (active.LastCheckpointStep is { } recorded && restore.Step < recorded)
            _log.Warning("job {0}: the newest valid checkpoint is step {1}, older than the recorded step {2} (see {3}/train.log)",
                active.JobId, restore.Step, recorded, active.Output);
        BeginRun(run, restore);
        // Attempt ids name the stage actors: numbered from the clock here, so they never collide with stages of the
        // previous coordinator that may still be stopping on a surviving worker (JOB-a1 again would be refused there).
        _attempt = (int)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() % 1_000_000) * 1000;
        _log.Info("job {0} resumed from the coordinator's state at step {1}: {2} steps on {3} stage(s)", run.JobId, run.StepsDone,
            run.Job.Steps, run.Job.Pipeline.Stages);
        Become(WaitingForWorkers);
        TryStart();
    }

    /// <summary>
    /// A run of <paramref name="job"/>, fresh or (<paramref name="resume"/>) moved to its output's newest valid
    /// checkpoint with a "resume" event in metrics.jsonl. Without a checkpoint a resume throws when
    /// <paramref name="requireCheckpoint"/> (`resume --seed`), else restarts from step 0 (the journal's job).
    /// </summary>
    private static (JobRun Run, RestoredTrainingState? Restore) OpenRun(string jobId, JobConfig job, bool resume, bool requireCheckpoint)
    {
        var run = JobRun.Start(jobId, job, resume: resume);
        RestoredTrainingState? restore = null;
        try
        {
            if (!resume) return (run, null);
            restore = run.LoadLatestCheckpoint();
            if (restore is null)
            {
                if (requireCheckpoint)
                    throw new CheckpointException($"{Path.Combine(job.Output, "checkpoints")}: no valid checkpoint to resume from; submit the job instead");
                run.RestartFromScratch();
                run.WriteEvent("resume", 0, ("from_step", 0), ("checkpoint", "none"), ("stages", run.Plan.Stages.Count));
                return (run, null);
            }
            run.Restore(restore);
            run.WriteEvent("resume", restore.Step, ("from_step", restore.Step), ("checkpoint", restore.Name),
                ("stages_before", restore.Plan.Stages), ("stages", run.Plan.Stages.Count));
            return (run, restore);
        }
        catch (Exception e)
        {
            restore?.Dispose();
            run.Log.Error("job {Id} rejected: {Message}", jobId, e.Message);
            run.Dispose();
            throw;
        }
    }

    private void BeginRun(JobRun run, RestoredTrainingState? restore)
    {
        _run = run;
        _restore = restore;
        _recovery = null;
        _recoveries = 0;
        _attempt = 0;
        _status = new JobStatus(run.JobId, run.Job.Name, JobStatus.WaitingForWorkers, "", run.StepsDone, run.Job.Steps, null, 0, [], run.Job.Output);
    }

    // ---- accept, checkpoint, end ----

    // The job becomes the active one in the database before any stage is spawned; the client hears only then.
    private void Accept(JobRun run, RestoredTrainingState? restore, bool resumed, IActorRef client)
    {
        var job = run.Job;
        AwaitJournal(new CoordinatorJournalProtocol.RecordJobAccepted(run.JobId, job.Name, job.ToJson(), job.Output),
            state =>
            {
                _jobCounter = checked((int)state.JobCounter);
                BeginRun(run, restore);
                _log.Info("job {0} accepted{1}: {2} steps on {3} stage(s)", run.JobId, resumed ? $" to resume from step {run.StepsDone}" : "",
                    job.Steps, job.Pipeline.Stages);
                client.Tell(new CoordinatorProtocol.JobAccepted(run.JobId, job.Steps));
                Become(WaitingForWorkers);
                TryStart();
            },
            e =>
            {
                restore?.Dispose();
                run.Log.Error("job {Id} rejected: the coordinator could not record it: {Message}", run.JobId, e.Message);
                run.Dispose();
                _log.Warning("job {0} rejected: the coordinator could not record it: {1}", run.JobId, e.Message);
                client.Tell(new CoordinatorProtocol.JobRejected($"coordinator state: {e.Message.Split('\n')[0]}"));
                Become(Idle);
            });
    }

    // A submission while a job is in progress: refused, except `resume --seed` of the very job the coordinator is
    // already running (e.g. resumed by itself after a restart), which is answered with that job's id to follow.
    private void SubmitWhileBusy(CoordinatorProtocol.SubmitJob m)
    {
        var run = _run!;
        JobConfig? job = null;
        try { job = JobConfig.Parse(m.JobJson, "submitted job", "/"); }
        catch (Exception) { /* refused below like any other */ }
        bool sameOutput = job is not null && Path.GetFullPath(job.Output) == Path.GetFullPath(run.Job.Output);
        if (m.Resume && sameOutput && job!.ToJson() == run.Job.ToJson())
        {
            _log.Info("resume of job {0} ({1}): it is already running; answering with its id", run.JobId, run.Job.Output);
            Sender.Tell(new CoordinatorProtocol.JobAccepted(run.JobId, run.Job.Steps));
            return;
        }
        Sender.Tell(new CoordinatorProtocol.JobRejected(sameOutput
            ? $"job {run.JobId} on {run.Job.Output} is already {_status.State} (the coordinator resumes an interrupted job by itself); " +
              "follow it with `sharelora status`, or resume it with other settings once it has ended"
            : $"job {run.JobId} is {_status.State}; submit again when it has finished"));
    }

    // After the checkpoint's atomic rename: it counts as committed (status, metrics event) once the journal has it.
    private void RecordCheckpoint(JobRun run, CheckpointExchange.Saved saved)
    {
        AwaitJournal(new CoordinatorJournalProtocol.RecordCheckpoint(run.JobId, saved.Step, saved.Directory),
            _ =>
            {
                CheckpointExchange.RecordCommitted(run, saved);
                _status = _status with { Message = $"step {run.StepsDone}/{run.Job.Steps}; checkpoint step {saved.Step} saved" };
                Become(Running);
                ContinueAfterStep();
            },
            e => throw new InvalidOperationException($"coordinator state: checkpoint step {saved.Step} of job {run.JobId} could not be recorded: {e.Message}", e));
    }

    // The end (state and message from the status) is recorded; then the coordinator takes the next job.
    private void RecordEnd(string jobId, Action next) =>
        AwaitJournal(new CoordinatorJournalProtocol.RecordJobEnded(jobId, _status.State, _status.Message),
            _ => Become(next),
            e => throw new InvalidOperationException($"coordinator state: the end of job {jobId} could not be recorded: {e.Message}", e));

    // ---- the journal round trip ----

    private void AwaitJournal(object command, Action<CoordinatorState> recorded, Action<Exception> failed)
    {
        _onRecorded = recorded;
        _onJournalFailed = failed;
        _journal.Tell(command);
        Become(WritingState);
    }

    private void WritingState()
    {
        Receive<CoordinatorJournalProtocol.Recorded>(r =>
        {
            var recorded = _onRecorded!;
            Resume();
            recorded(r.State);
        });
        Receive<Akka.Actor.Status.Failure>(f =>
        {
            var failed = _onJournalFailed!;
            Resume();
            failed(f.Cause);
        }, _ => Sender.Equals(_journal));
        Receive<Terminated>(t => t.ActorRef.Equals(_journal), _ => OnJournalLost());
        Receive<CoordinatorProtocol.GetJobStatus>(_ => Sender.Tell(_status));
        ReceiveAny(_ => Stash.Stash());
    }

    // Before the continuation runs (it may start the next write): the waiting messages come back after it.
    private void Resume()
    {
        _onRecorded = null;
        _onJournalFailed = null;
        Stash.UnstashAll();
    }

    // Thrown, so the singleton's supervisor restarts the coordinator: its stages stop (PostStop), a new journal reads
    // the database again and the active job resumes from its newest checkpoint; while the database stays unreachable
    // each attempt ends with the journal's recovery timeout, logged.
    private void OnJournalLost() =>
        throw new InvalidOperationException("coordinator state: the journal stopped (the database failed or is unreachable); restarting the coordinator to read its state again");

    private bool IsJournal(Terminated t) => t.ActorRef.Equals(_journal);
}
