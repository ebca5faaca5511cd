namespace ShareLoRA.Model.Adapters;

/// <summary>Hyperparameters of <see cref="AdapterAdamW"/>, with torch.optim.AdamW's meaning (weight decay decoupled).</summary>
public sealed record AdamWSettings(
    double LearningRate = 1e-3,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Eps = 1e-8,
    double WeightDecay = 0.0)
{
    public void Validate()
    {
        if (!(LearningRate >= 0)) throw new ArgumentException($"adamw: learning rate must be >= 0 (got {LearningRate})");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentException($"adamw: beta1 must be in [0, 1) (got {Beta1})");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"adamw: beta2 must be in [0, 1) (got {Beta2})");
        if (!(Eps >= 0)) throw new ArgumentException($"adamw: eps must be >= 0 (got {Eps})");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"adamw: weight decay must be >= 0 (got {WeightDecay})");
    }
}
