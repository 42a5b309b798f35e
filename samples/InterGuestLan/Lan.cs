using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using Spectre.Console;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Switching;

namespace InterGuestLan;

/// <summary>Builds the LAN (switch and guests), runs the traffic with a live view, then prints the result table and decides the exit code.</summary>
internal static class Lan
{
    private const int RefreshMilliseconds = 250;
    private const int DrainStallMilliseconds = 1000;
    private const int DrainLimitMilliseconds = 10_000;

    /// <summary>The features a guest declines when it should get TSO frames segmented.</summary>
    private const NetFeatures GuestSegmentationOffloads =
        NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo;

    public static int Run(LanOptions options)
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 160;   // a log or a pipe: room for the result table's columns
        }

        string traffic = options.Tso
            ? $"64 KiB TSO super-frames ({Wire.TsoSegments} × {Wire.TsoSegmentPayload}-byte TCP segments)"
            : $"{options.FrameSize}-byte frames";
        AnsiConsole.MarkupLine(
            $"[bold]VirtioRing inter-guest LAN[/]: {options.Guests} guests × {options.Pairs} queue pair(s), {(options.Packed ? "packed" : "split")} rings of {options.QueueSize}, "
            + $"{Markup.Escape(traffic)}, all-to-all, {(options.Lossless ? "lossless" : "drop")} flow control, {options.DurationSeconds} s"
            + (options.MaxFrames > 0 ? $" or {options.MaxFrames:N0} frames per guest" : string.Empty));

        var lan = new NetSwitch(new NetSwitchOptions
        {
            FlowControl = options.Lossless ? NetSwitchFlowControl.Lossless : NetSwitchFlowControl.DropAndCount,
        });
        var guests = new List<InProcessGuest>(options.Guests);
        var ports = new List<NetSwitchPort>(options.Guests);
        var runners = new List<GuestRunner>(options.Guests);
        using var cancel = new CtrlC();
        try
        {
            for (int i = 0; i < options.Guests; i++)
            {
                NetSwitchPort port = lan.AddGuestPort($"guest{i}");
                ports.Add(port);
                InProcessGuest g = InProcessGuest.Create(port, new InProcessGuestOptions
                {
                    Mac = Wire.MacOf(i),
                    QueuePairs = options.Pairs,
                    QueueSize = options.QueueSize,
                    Packed = options.Packed,
                    DriverFeatures = options.HasGuestTso(i) ? NetDriverOptions.DefaultFeatures : NetDriverOptions.DefaultFeatures & ~GuestSegmentationOffloads,
                    TxBufferSize = options.Tso ? 8192 : 2048,
                    Name = $"guest{i}",
                });
                guests.Add(g);

                // §5.1.6.5.6: only the first pair is active until the driver sets more through the control queue.
                if (options.Pairs > 1)
                {
                    ControlAck ack = g.Driver.SetQueuePairs(options.Pairs);
                    if (ack != ControlAck.Ok || g.Device.ActivePairs != options.Pairs)
                    {
                        AnsiConsole.MarkupLine($"[red]FAILED[/]: guest {i}: VQ_PAIRS_SET {options.Pairs} answered {ack}, {g.Device.ActivePairs} pair(s) active");
                        return 1;
                    }
                }
            }

            if (!Announce(lan, guests))
            {
                AnsiConsole.MarkupLine("[red]FAILED[/]: the switch did not learn every guest's address from its announcement");
                return 1;
            }

            var control = new RunControl(options.DurationSeconds);
            cancel.Control = control;
            for (int i = 0; i < options.Guests; i++)
            {
                runners.Add(new GuestRunner(i, guests[i], options, control));
            }

            foreach (GuestRunner r in runners)
            {
                r.Start();
            }

            Watch(runners);
            control.Finish();
            foreach (GuestRunner r in runners)
            {
                if (!r.Join(5000))
                {
                    AnsiConsole.MarkupLine($"[red]guest {r.Id}'s thread did not stop[/]");
                }
            }

            double seconds = Stopwatch.GetElapsedTime(control.StartTimestamp).TotalSeconds;
            return Report(options, runners, ports, control, seconds);
        }
        finally
        {
            foreach (InProcessGuest g in guests)
            {
                g.Dispose();
            }
        }
    }

    /// <summary>
    /// Each guest broadcasts one frame (local experimental EtherType 88B5) so the switch learns every
    /// address before the traffic starts; otherwise the first unicast frames to each guest are
    /// flooded to all ports (correct bridging, but noise for the counters).
    /// </summary>
    /// <returns><see langword="true"/> when the switch knows every guest's port.</returns>
    private static bool Announce(NetSwitch lan, List<InProcessGuest> guests)
    {
        Span<byte> frame = stackalloc byte[60];
        frame.Clear();
        MacAddress.Broadcast.WriteTo(frame);
        frame[12] = 0x88;
        frame[13] = 0xB5;
        foreach (InProcessGuest g in guests)
        {
            g.Mac.WriteTo(frame.Slice(6));
            if (!g.Driver.TrySend(0, frame, default))
            {
                return false;
            }
        }

        long start = Stopwatch.GetTimestamp();
        foreach (InProcessGuest g in guests)
        {
            while (!lan.TryGetPort(g.Mac, out _))
            {
                if (Stopwatch.GetElapsedTime(start).TotalSeconds > 5)
                {
                    return false;
                }

                Thread.Sleep(1);
            }
        }

        return true;
    }

    /// <summary>The live view: per-guest rates ~4 times a second while sending, then while the last frames drain.</summary>
    private static void Watch(List<GuestRunner> runners)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]live[/]");
        table.AddColumn("guest");
        table.AddColumn(new TableColumn("TX pkt/s").RightAligned());
        table.AddColumn(new TableColumn("TX Gbit/s").RightAligned());
        table.AddColumn(new TableColumn("RX pkt/s").RightAligned());
        table.AddColumn(new TableColumn("RX Gbit/s").RightAligned());
        table.AddColumn(new TableColumn("sent").RightAligned());
        table.AddColumn(new TableColumn("received").RightAligned());
        table.AddColumn("state");
        foreach (GuestRunner r in runners)
        {
            table.AddRow(r.Id.ToString(CultureInfo.InvariantCulture), "", "", "", "", "", "", "");
        }

        var last = new (long Sent, long SentBytes, long Received, long ReceivedBytes)[runners.Count];
        long lastTick = Stopwatch.GetTimestamp();
        long drainStart = 0;
        long lastProgress = 0;
        long lastTotal = -1;
        AnsiConsole.Live(table).AutoClear(false).Start(ctx =>
        {
            while (true)
            {
                Thread.Sleep(RefreshMilliseconds);
                long now = Stopwatch.GetTimestamp();
                double dt = Math.Max(1e-3, (double)(now - lastTick) / Stopwatch.Frequency);
                lastTick = now;
                bool allSent = true;
                for (int i = 0; i < runners.Count; i++)
                {
                    GuestRunner r = runners[i];
                    long sent = r.Sum(Counter.SentFrames);
                    long sentBytes = r.Sum(Counter.SentBytes);
                    long received = r.Sum(Counter.ReceivedFrames);
                    long receivedBytes = r.Sum(Counter.ReceivedBytes);
                    table.UpdateCell(i, 1, Rate((sent - last[i].Sent) / dt));
                    table.UpdateCell(i, 2, Gbits((sentBytes - last[i].SentBytes) / dt));
                    table.UpdateCell(i, 3, Rate((received - last[i].Received) / dt));
                    table.UpdateCell(i, 4, Gbits((receivedBytes - last[i].ReceivedBytes) / dt));
                    table.UpdateCell(i, 5, Count(sent));
                    table.UpdateCell(i, 6, Count(received));
                    table.UpdateCell(i, 7, r.AnyExited ? "[red]stopped[/]" : r.FinishedSending ? "draining" : "sending");
                    last[i] = (sent, sentBytes, received, receivedBytes);
                    allSent &= r.FinishedSending;
                }

                ctx.Refresh();
                if (!allSent)
                {
                    continue;
                }

                // Drain: wait until every message sent was received (lossless), or nothing has moved
                // for a while (drop mode, or a loss), or the limit.
                if (drainStart == 0)
                {
                    drainStart = now;
                }

                long total = 0;
                bool balanced = true;
                foreach (GuestRunner r in runners)
                {
                    for (int d = 0; d < runners.Count; d++)
                    {
                        long received = runners[d].ReceivedFrom(r.Id);
                        total += received;
                        balanced &= received == r.SentTo(d);
                    }
                }

                if (total != lastTotal)
                {
                    lastTotal = total;
                    lastProgress = now;
                }

                if (balanced ||
                    Stopwatch.GetElapsedTime(lastProgress, now).TotalMilliseconds >= DrainStallMilliseconds ||
                    Stopwatch.GetElapsedTime(drainStart, now).TotalMilliseconds >= DrainLimitMilliseconds)
                {
                    break;
                }
            }
        });
    }

    private static int Report(LanOptions options, List<GuestRunner> runners, List<NetSwitchPort> ports, RunControl control, double seconds)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]result[/]");
        table.AddColumn("guest");
        if (options.Tso)
        {
            table.AddColumn("GUEST_TSO");
        }

        table.AddColumn(new TableColumn("sent").RightAligned());
        table.AddColumn(new TableColumn("received").RightAligned());
        table.AddColumn(new TableColumn(options.Tso ? "segments sent to it" : "sent to it").RightAligned());
        table.AddColumn(new TableColumn("verified").RightAligned());
        table.AddColumn(new TableColumn("lost").RightAligned());
        table.AddColumn(new TableColumn("out of order").RightAligned());
        table.AddColumn(new TableColumn("corrupt").RightAligned());
        table.AddColumn(new TableColumn("switch drops").RightAligned());
        table.AddColumn(new TableColumn("held").RightAligned());
        table.AddColumn(new TableColumn("RX Gbit/s").RightAligned());
        table.AddColumn(new TableColumn("TX pkts by pair").RightAligned());
        table.AddColumn(new TableColumn("RX pkts by pair").RightAligned());

        bool ok = true;
        var problems = new List<string>();
        int pairsUsed = 0;
        var txPerPair = new ulong[options.Pairs];
        long lostTotal = 0;
        long verifiedTotal = 0;
        long receivedBytesTotal = 0;
        long notForUs = 0;
        foreach (GuestRunner r in runners)
        {
            long verified = r.Sum(Counter.Verified);
            long corrupt = r.Sum(Counter.Corrupt);
            long outOfOrder = r.Sum(Counter.OutOfOrder);
            long receivedBytes = r.Sum(Counter.ReceivedBytes);
            long sentToIt = 0;
            long receivedByIt = 0;
            foreach (GuestRunner s in runners)
            {
                sentToIt += s.SentTo(r.Id);
                receivedByIt += r.ReceivedFrom(s.Id);
            }

            long lost = sentToIt - receivedByIt;
            lostTotal += Math.Max(0, lost);
            verifiedTotal += verified;
            receivedBytesTotal += receivedBytes;
            notForUs += r.Sum(Counter.NotForUs);
            NetSwitchPortCounters c = ports[r.Id].GetCounters();
            long drops = c.DroppedNoBuffers + c.DroppedQueueDown + c.DroppedBadFrame + c.DroppedFiltered + c.DroppedNoRoute;
            var tx = new List<string>(options.Pairs);
            var rx = new List<string>(options.Pairs);
            for (int p = 0; p < options.Pairs; p++)
            {
                ulong t = r.Guest.Driver.GetCounters((2 * p) + 1).Packets;
                txPerPair[p] += t;
                tx.Add(Count((long)t));
                rx.Add(Count((long)r.Guest.Driver.GetCounters(2 * p).Packets));
            }

            var cells = new List<string> { r.Id.ToString(CultureInfo.InvariantCulture) };
            if (options.Tso)
            {
                cells.Add(options.HasGuestTso(r.Id) ? "on" : "[yellow]off (segmented)[/]");
            }

            cells.Add(Count(r.Sum(Counter.SentFrames)));
            cells.Add(Count(r.Sum(Counter.ReceivedFrames)));
            cells.Add(Count(sentToIt));
            cells.Add(Count(verified));
            cells.Add(Flag(lost, options.Lossless));
            cells.Add(Flag(outOfOrder, true));
            cells.Add(Flag(corrupt, true));
            cells.Add(Count(drops));
            cells.Add(Count(c.HeldFrames));
            cells.Add(Gbits(receivedBytes / seconds));
            cells.Add(string.Join(" / ", tx));
            cells.Add(string.Join(" / ", rx));
            table.AddRow(cells.ToArray());

            if (corrupt != 0 || outOfOrder != 0 || verified != receivedByIt)
            {
                problems.Add($"guest {r.Id}: {corrupt} corrupt and {outOfOrder} out-of-order messages; first: {r.FirstError ?? "-"}");
            }
            else if (r.FirstError is { } error)
            {
                problems.Add(error);
            }

            if (lost < 0)
            {
                problems.Add($"guest {r.Id} received {-lost} messages more than were sent to it (duplicates)");
            }
            else if (lost > 0 && options.Lossless)
            {
                problems.Add($"guest {r.Id}: {lost} messages sent to it never arrived, in lossless mode"
                    + (options.Tso && !options.HasGuestTso(r.Id)
                        ? " (segments of TSO super-frames: the device delivers a segmented super-frame's first segments and drops the rest when the receive queue runs out of buffers, and the switch cannot hold a half-delivered frame)"
                        : string.Empty));
            }

            string faults = Faults(r.Guest, options.Pairs);
            if (faults.Length != 0)
            {
                problems.Add($"guest {r.Id}: {faults}");
            }
        }

        foreach (ulong t in txPerPair)
        {
            pairsUsed += t != 0 ? 1 : 0;
        }

        if (options.Pairs > 1 && pairsUsed < 2)
        {
            problems.Add($"the flow-hash selector put all traffic on one of {options.Pairs} queue pairs");
        }

        if (verifiedTotal == 0)
        {
            problems.Add("no message was received");
        }

        AnsiConsole.Write(table);
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"{Count(verifiedTotal)} messages verified in {seconds:F1} s ({verifiedTotal / seconds / 1e6:F2} M/s, {Gbits(receivedBytesTotal / seconds)} Gbit/s received in all); transmit queues used: {pairsUsed} of {options.Pairs} pair(s); lost: {Count(lostTotal)}; frames for other guests (announcements, flooding) ignored: {Count(notForUs)}");
        AnsiConsole.MarkupLine(summary + (options.Lossless ? string.Empty : " (drop mode: counted, not an error)"));
        if (control.StopReason is { } reason)
        {
            AnsiConsole.MarkupLine($"[yellow]sending stopped early[/]: {Markup.Escape(reason)}");
        }

        ok = problems.Count == 0;
        if (!ok)
        {
            foreach (string p in problems)
            {
                AnsiConsole.MarkupLine($"[red]FAILED[/]: {Markup.Escape(p)}");
            }

            return 1;
        }

        AnsiConsole.MarkupLine(options.Lossless
            ? "[green]OK[/]: every message verified end to end (sender, destination, sequence, pattern, checksums); nothing lost"
            : "[green]OK[/]: every message received verified end to end (sender, destination, sequence, pattern, checksums)");
        return 0;
    }

    /// <summary>Describes any queue the driver or the device saw broken, or frames the device refused.</summary>
    private static string Faults(InProcessGuest g, int pairs)
    {
        var parts = new List<string>();
        for (int q = 0; q < 2 * pairs; q++)
        {
            NetDriverFault f = g.Driver.GetFault(q);
            if (f != NetDriverFault.None)
            {
                parts.Add($"driver queue {q}: {f}");
            }

            NetQueueCounters c = g.Device.GetCounters(q);
            if (c.BrokenQueue != 0 || c.BadHeader != 0 || c.BadFrame != 0)
            {
                parts.Add($"device queue {q}: {c}");
            }
        }

        return string.Join("; ", parts);
    }

    private static string Flag(long value, bool isError) =>
        value != 0 && isError ? $"[red]{Count(value)}[/]" : Count(value);

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Rate(double perSecond) =>
        perSecond >= 1e6 ? string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e6:F2} M")
        : perSecond >= 1e3 ? string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e3:F1} k")
        : string.Create(CultureInfo.InvariantCulture, $"{perSecond:F0}");

    private static string Gbits(double bytesPerSecond) => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond * 8 / 1e9:F2}");

    /// <summary>Ctrl-C stops sending (the run drains and reports as usual); a second Ctrl-C ends the process.</summary>
    private sealed class CtrlC : IDisposable
    {
        private int _presses;

        public CtrlC() => Console.CancelKeyPress += OnCancel;

        public RunControl? Control { get; set; }

        public void Dispose() => Console.CancelKeyPress -= OnCancel;

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            if (Interlocked.Increment(ref _presses) == 1 && Control is { } c)
            {
                e.Cancel = true;
                c.RequestStop("Ctrl-C");
            }
        }
    }
}
