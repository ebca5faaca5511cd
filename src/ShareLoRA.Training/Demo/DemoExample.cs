namespace ShareLoRA.Training.Demo;

/// <summary>One synthetic instruction record, written as an Alpaca JSONL line.</summary>
public sealed record DemoExample(string Instruction, string Input, string Output);
