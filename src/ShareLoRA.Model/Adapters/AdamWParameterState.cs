using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// AdamW state of one parameter: its own step count (as torch keeps it per parameter) and the two moments, same
/// shape and dtype as the parameter. Exported states are independent copies the caller disposes.
/// </summary>
public sealed record AdamWParameterState(long Step, Tensor ExpAvg, Tensor ExpAvgSq) : IDisposable
{
    public void Dispose()
    {
        ExpAvg.Dispose();
        ExpAvgSq.Dispose();
    }
}
