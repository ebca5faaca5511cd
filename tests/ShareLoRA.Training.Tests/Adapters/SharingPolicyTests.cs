using Xunit;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;

namespace ShareLoRA.Training.Tests.Adapters;

public class SharingPolicyTests
{
    [Theory]
    [InlineData(AdapterMethod.Lora, false, false)]
    [InlineData(AdapterMethod.ShareA, true, false)]
    [InlineData(AdapterMethod.ShareB, false, true)]
    [InlineData(AdapterMethod.ShareAB, true, true)]
    public void For_applies_one_method_to_every_target(AdapterMethod method, bool a, bool b)
    {
        var policy = SharingPolicy.For(method, TargetModules.All);
        Assert.Equal(TargetModules.All, policy.Targets);
        foreach (var m in TargetModules.All)
        {
            Assert.Equal(a, policy.SharesA(m));
            Assert.Equal(b, policy.SharesB(m));
            Assert.Equal(method, policy.MethodFor(m));
        }
        Assert.Equal(a || b, policy.SharesAny);
        Assert.Equal(method.Name(), policy.ToString());
    }

    [Fact]
    public void Non_targets_share_nothing_and_targets_are_canonical_and_distinct()
    {
        var policy = SharingPolicy.For(AdapterMethod.ShareAB, [TargetModule.V, TargetModule.Q, TargetModule.V]);
        Assert.Equal([TargetModule.Q, TargetModule.V], policy.Targets);
        Assert.False(policy.SharesA(TargetModule.K));
        Assert.False(policy.SharesB(TargetModule.Down));
        Assert.False(policy.IsTarget(TargetModule.O));
        var e = Assert.Throws<ArgumentException>(() => policy.MethodFor(TargetModule.O));
        Assert.Equal("module 'o' is not an adapter target (targets: q, v)", e.Message);
    }

    [Fact]
    public void Self_attention_variant_shares_only_q_k_v()
    {
        var policy = SharingPolicy.SelfAttentionOnly(AdapterMethod.ShareA, TargetModules.All);
        Assert.Equal([true, true, true, false, false, false, false], TargetModules.All.Select(policy.SharesA));
        Assert.All(TargetModules.All, m => Assert.False(policy.SharesB(m)));
        Assert.Equal("q,k,v:share-a o,gate,up,down:lora", policy.ToString());
    }

    [Fact]
    public void Parse_with_overrides_equals_the_self_attention_variant()
    {
        var parsed = SharingPolicy.Parse("share-a", ["q_proj", "k", "v", "o", "gate", "up", "down"],
            new Dictionary<string, string> { ["o"] = "lora", ["gate"] = "lora", ["up_proj"] = "lora", ["down"] = "lora" });
        Assert.Equal(SharingPolicy.SelfAttentionOnly(AdapterMethod.ShareA, TargetModules.All), parsed);
        Assert.Equal(parsed.GetHashCode(), SharingPolicy.SelfAttentionOnly(AdapterMethod.ShareA, TargetModules.All).GetHashCode());
        Assert.NotEqual(SharingPolicy.For(AdapterMethod.ShareA, TargetModules.All), parsed);
    }

    [Fact]
    public void WithOverride_changes_one_module()
    {
        var policy = SharingPolicy.For(AdapterMethod.Lora, [TargetModule.Q, TargetModule.V]).WithOverride(TargetModule.V, AdapterMethod.ShareB);
        Assert.False(policy.SharesB(TargetModule.Q));
        Assert.True(policy.SharesB(TargetModule.V));
        Assert.False(policy.SharesA(TargetModule.V));
    }

    [Theory]
    [InlineData("share-x", "q", null, "adapter method must be one of lora, share-a, share-b, share-ab (got 'share-x')")]
    [InlineData("lora", "q,attn", null, "adapter target must be one of q, k, v, o, gate, up, down (got 'attn')")]
    [InlineData("lora", "", null, "adapter targets must name at least one module (q, k, v, o, gate, up, down)")]
    [InlineData("share-a", "q,v", "o=lora", "adapter override names module 'o', which is not a target (targets: q, v)")]
    [InlineData("share-a", "q,v", "v=both", "adapter override for 'v' must be one of lora, share-a, share-b, share-ab (got 'both')")]
    public void Parse_errors_are_one_line_and_name_the_bad_value(string method, string targets, string? overrideText, string expected)
    {
        var overrides = overrideText?.Split('=') is [var k, var v] ? new Dictionary<string, string> { [k] = v } : null;
        var list = targets.Split(',', StringSplitOptions.RemoveEmptyEntries);
        var e = Assert.Throws<ArgumentException>(() => SharingPolicy.Parse(method, list, overrides));
        Assert.Equal(expected, e.Message);
    }
}
