using System;
using Xunit;

namespace VirtioRing.Linux.Tests;

public sealed class EpollWorkerSignalFactoryTests
{
    [Fact]
    public void Create_PerPair_IndexerReturnsTheSameSignal()
    {
        using var f = new EpollWorkerSignalFactory();
        var a = f.Create(0);
        var b = f.Create(1);
        Assert.Same(a, f[0]);
        Assert.Same(b, f[1]);
        Assert.Equal(2, f.Count);
        Assert.Throws<InvalidOperationException>(() => f.Create(0));
    }

    [Fact]
    public void Dispose_DisposesEverySignal()
    {
        var f = new EpollWorkerSignalFactory();
        var a = (EpollWorkerSignal)f.Create(0);
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(a.Notify);
        Assert.Throws<ObjectDisposedException>(() => f.Create(1));
    }
}
