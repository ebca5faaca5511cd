namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>The GLUE tasks the paper's RoBERTa experiments use (QNLI only where its data is present).</summary>
public enum GlueTask
{
    Sst2,
    Mrpc,
    Rte,
    Cola,
    Stsb,
    Qnli,
}
