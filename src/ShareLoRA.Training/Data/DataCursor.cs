namespace ShareLoRA.Training.Data;

/// <summary>
/// Where training data reading stands: the epoch and how many examples of that epoch's order were consumed. Together
/// with the run seed it fixes every later batch, so a checkpoint persists it and a resumed run continues identically.
/// Canonical: a finished epoch is (Epoch + 1, 0).
/// </summary>
public sealed record DataCursor(int Epoch, int Position)
{
    public static readonly DataCursor Start = new(0, 0);

    public override string ToString() => $"epoch {Epoch}, position {Position}";
}
