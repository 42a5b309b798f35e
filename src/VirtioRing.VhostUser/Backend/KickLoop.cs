using System;
using System.Threading;
using VirtioRing.Linux;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// One thread asleep in <c>epoll_wait</c> on kick eventfds, for devices whose pair workers do not
/// sleep on an <see cref="EpollWorkerSignal"/> (a device built without
/// <see cref="EpollWorkerSignalFactory"/>): each kick is consumed and handed to the device.
/// </summary>
internal sealed class KickLoop : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stopping;

    public KickLoop(string name)
    {
        Signal = new EpollWorkerSignal();
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public EpollWorkerSignal Signal { get; }

    public void Dispose()
    {
        _stopping = true;
        Signal.Notify();
        _thread.Join();
        Signal.Dispose();
    }

    private void Run()
    {
        while (!_stopping)
        {
            Signal.Wait(-1);
        }
    }
}
