using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Evaluation;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Tests.Hosting;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.Evaluation;

/// <summary>
/// <see cref="ClusterEvaluationModel"/> against <see cref="LocalEvaluationModel"/> on a seed and two workers in this
/// process: every readout and a greedy decoding through two stages equal the local numbers bit for bit; when a worker
/// leaves, the next request fails at once with the session's reason.
/// </summary>
public sealed class ClusterEvaluationModelTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sharelora-evalmodel-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private static LlamaConfig Config => new()
    {
        HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, VocabSize = 80, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    private static void AssertSame(EvaluationResult expected, EvaluationResult actual)
    {
        Assert.Equal(expected.NextToken, actual.NextToken);
        Assert.Equal(expected.Values.Length, actual.Values.Length);
        for (int r = 0; r < expected.Values.Length; r++)
            Assert.Equal(expected.Values[r].Select(BitConverter.SingleToInt32Bits), actual.Values[r].Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public async Task TwoStagesGiveTheLocalNumbersAndALostWorkerFailsTheNextRequest()
    {
        var modelDir = Path.Combine(_folder, "model");
        var adapterDir = Path.Combine(_folder, "adapter");
        using (var model = LlamaModel.CreateRandom(Config, 3, initStd: 0.5)) model.Save(modelDir);
        var layout = AdapterLayout.ForMethod("lora", Config.NumHiddenLayers, AdapterLayout.LlamaDims(Config), [TargetModule.Q, TargetModule.V], 4, 8, 0.1);
        using (var bank = AdapterBank.Create(layout, seed: 9))
        {
            using (no_grad())
                foreach (var p in bank.Parameters.Where(p => p.Matrix == 'B')) p.Value.fill_(0.05);
            AdapterDirectory.Save(bank, adapterDir, modelDir);
        }

        var port = NodeHostTests.FreePort();
        var seed = new HostPort("127.0.0.1", port);
        await using var seedNode = NodeHost.Start(new NodeOptions(NodeRole.Seed, Host: "127.0.0.1", Port: port, LogsDirectory: _folder));
        await using var worker1 = NodeHost.Start(new NodeOptions(NodeRole.Worker, Host: "127.0.0.1", Seed: seed, LogsDirectory: _folder));
        await using var worker2 = NodeHost.Start(new NodeOptions(NodeRole.Worker, Host: "127.0.0.1", Seed: seed, LogsDirectory: _folder));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await StatusClient.QueryAsync(seed, TimeSpan.FromSeconds(5))).Members.Count(m => m.Status == "Up") < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, "the seed and two workers did not come Up");
            await Task.Delay(200);
        }

        using var localModel = LlamaModel.Load(modelDir, new ModelLoadOptions());
        using var localAdapter = AdapterDirectory.Load(adapterDir, localModel.Config);
        var local = new LocalEvaluationModel(localModel, localAdapter);
        using var remote = await ClusterEvaluationModel.OpenAsync(seed, modelDir, adapterDir, 2, localModel.Config, requestTimeout: TimeSpan.FromSeconds(60));
        Assert.Equal([(0, 2), (2, 3)], remote.Stages.Select(s => (s.FirstLayer, s.EndLayer)));
        Assert.NotEqual(remote.Stages[0].Worker, remote.Stages[1].Worker);

        IReadOnlyList<IReadOnlyList<int>> rows = [[1, 5, 9, 12, 30], [1, 7], [1, 40, 41, 42]];
        AssertSame(local.Run(EvaluationRequest.ForCandidates(rows, [10, 11, 12, 13])), remote.Run(EvaluationRequest.ForCandidates(rows, [10, 11, 12, 13])));
        var batch = BatchCollator.Collate([new TokenizedExample([1, 5, 9, 12], [-100, -100, 9, 12]), new TokenizedExample([1, 7, 8], [1, 7, 8])], [0, 1], 0);
        AssertSame(local.Run(EvaluationRequest.ForTargets(batch)), remote.Run(EvaluationRequest.ForTargets(batch)));
        using (var a = local.StartDecoding(16))
        using (var b = remote.StartDecoding(16))
        {
            IReadOnlyList<int> feed = [1, 10, 20];
            for (int i = 0; i < 6; i++)
            {
                int next = a.Next(feed);
                Assert.Equal(next, b.Next(feed));
                feed = [next];
            }
        }

        // The worker holding a stage leaves: its stage stops, the session fails and stops the other, the client hears of it.
        var holder = remote.Stages[1].Worker == $"akka.tcp://sharelora@127.0.0.1:{worker2.Port}" ? worker2 : worker1;
        await holder.StopAsync();
        var e = Assert.Throws<ClusterEvaluationException>(() =>
        {
            for (int i = 0; i < 50; i++)
            {
                remote.Run(EvaluationRequest.ForCandidates(rows, [10]));
                Thread.Sleep(100);
            }
        });
        // Whichever the session hears first: the worker leaving the cluster, or its stage stopping.
        Assert.Matches($@"^evaluation through the cluster at {System.Text.RegularExpressions.Regex.Escape(seed.ToString())} failed: " +
            @"(worker akka\.tcp://\S+ holding eval stage 1 (left the cluster|was removed from the cluster|became unreachable)|eval stage \d on worker \S+: .+)$", e.Message);
    }
}
