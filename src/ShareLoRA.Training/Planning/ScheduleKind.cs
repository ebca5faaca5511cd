namespace ShareLoRA.Training.Planning;

/// <summary>Pipeline schedules with a flush at the end of every optimizer step (no asynchronous weight versions).</summary>
public enum ScheduleKind
{
    /// <summary>All forwards, then all backwards: every micro-batch's activations are held at once.</summary>
    GPipe,
    /// <summary>One-forward-one-backward with flush: stage i holds at most p - i micro-batches' activations.</summary>
    OneFOneB,
}
