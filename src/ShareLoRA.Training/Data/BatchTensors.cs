using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Data;

/// <summary>
/// A <see cref="Batch"/> as int64 tensors [rows, columns] — input_ids, labels (-100 on ignored positions; float32 [rows]
/// when the batch has sequence-level <see cref="Batch.RowLabels"/>) and
/// attention_mask — on one device. The only place where data meets TorchSharp; the owner disposes it.
/// </summary>
public sealed class BatchTensors : IDisposable
{
    private BatchTensors(Tensor inputIds, Tensor labels, Tensor attentionMask)
    {
        InputIds = inputIds;
        Labels = labels;
        AttentionMask = attentionMask;
    }

    public Tensor InputIds { get; }
    public Tensor Labels { get; }
    public Tensor AttentionMask { get; }

    public static BatchTensors From(Batch batch, Device? device = null)
    {
        long[] shape = [batch.Rows, batch.Columns];
        var labels = batch.RowLabels is { } rowLabels ? RowTensor(rowLabels, device) : ToTensor(batch.Labels, shape, device);
        return new BatchTensors(ToTensor(batch.InputIds, shape, device), labels, ToTensor(batch.AttentionMask, shape, device));
    }

    private static Tensor RowTensor(float[] values, Device? device)
    {
        var cpu = torch.tensor(values, [values.Length], ScalarType.Float32);
        if (device is null || device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }

    private static Tensor ToTensor(int[] values, long[] shape, Device? device)
    {
        var longs = Array.ConvertAll(values, v => (long)v);
        var cpu = torch.tensor(longs, shape, ScalarType.Int64);
        if (device is null || device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AttentionMask.Dispose();
    }
}
