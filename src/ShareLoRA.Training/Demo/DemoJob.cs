using System.Globalization;

namespace ShareLoRA.Training.Demo;

/// <summary>
/// The demo's job file: ShareLoRA share-a, rank 8, on the generated tiny model and data, two pipeline stages (the
/// cluster demo runs them on two workers), sized to train in about a minute on 2 CPU cores in one process.
/// Paths are relative to the job file, so the asset folder can be moved.
/// </summary>
public static class DemoJob
{
    public const int Steps = 300;

    public static string Text(long seed) => string.Create(CultureInfo.InvariantCulture, $$"""
        // Demo job written by `sharelora init-demo`: ShareLoRA share-a on the generated tiny Llama and synthetic
        // instruction data beside this file. Single process:  sharelora train --job demo-job.json
        // Paths are relative to this file.
        {
          "name": "demo-share-a",
          "model": "model",
          "data": {
            "train": "data/train.jsonl",
            "eval": "data/eval.jsonl",
            "format": "alpaca",
            "source_max_len": 96,
            "target_max_len": 32,
            "eval_every": 50,
            "eval_max_examples": 64
          },
          "adapter": {
            "method": "share-a",
            "rank": 8,
            "alpha": 16,
            "dropout": 0.05,
            "targets": ["q", "k", "v", "o", "gate", "up", "down"]
          },
          "optim": {
            "lr": 3e-3,
            "schedule": "cosine",
            "warmup_steps": 20,
            "max_grad_norm": 1.0
          },
          "batch": { "micro_batch_size": 4, "micro_batches": 2 },
          "steps": {{Steps}},
          "seed": {{seed}},
          "output": "run",
          "pipeline": { "stages": 2, "schedule": "1f1b" },
          "checkpoint": { "every": 50, "keep": 3 }
        }

        """);
}
