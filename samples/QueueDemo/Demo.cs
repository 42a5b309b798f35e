using System;
using System.Globalization;
using System.Threading;
using Spectre.Console;

namespace QueueDemo;

/// <summary>Runs the queue with a live progress line, then prints the result table.</summary>
internal static class Demo
{
    public static int Run(DemoOptions options)
    {
        AnsiConsole.MarkupLine(
            $"[bold]VirtioRing queue demo[/]: {options.Layout} ring, {options.QueueSize} descriptors, "
            + $"{options.Segments} segment(s) per chain, batch {options.Batch}, features [[{Markup.Escape(options.Features.ToString())}]]");

        using var run = new QueueRun(options);
        DemoResult? result = null;
        var worker = new Thread(() => result = run.Run()) { Name = "demo", IsBackground = true };

        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new ElapsedTimeColumn(),
                new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask task = ctx.AddTask("moving buffers", maxValue: options.Buffers);
                long startTicks = Environment.TickCount64;
                worker.Start();
                while (!worker.Join(100))
                {
                    long moved = run.Reclaimed;
                    double seconds = Math.Max(1, Environment.TickCount64 - startTicks) / 1000.0;
                    task.Value = moved;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"{moved:N0} buffers, {moved / seconds / 1e6:F1} M/s");
                }

                task.Value = run.Reclaimed;
                task.Description = string.Create(CultureInfo.InvariantCulture, $"{run.Reclaimed:N0} buffers");
            });

        DemoResult r = result!;
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]result[/]");
        table.AddColumn("measure");
        table.AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("layout", options.Layout);
        table.AddRow("threads", "2 (driver, device)");
        table.AddRow("buffers moved", Format(r.Moved));
        table.AddRow("payload bytes", Format(r.Bytes));
        table.AddRow("requests verified by the device", options.Segments == 2 ? Format(r.DeviceVerified) : "n/a (1 segment)");
        table.AddRow("responses verified by the driver", Format(r.DriverVerified));
        table.AddRow("kicks (driver -> device) asked for", Format(r.Kicks));
        table.AddRow("interrupts (device -> driver) asked for", Format(r.Interrupts));
        table.AddRow("time", string.Create(CultureInfo.InvariantCulture, $"{r.Elapsed.TotalMilliseconds:F1} ms"));
        table.AddRow("Mbuffers/s", string.Create(CultureInfo.InvariantCulture, $"{r.MegaBuffersPerSecond:F2}"));
        AnsiConsole.Write(table);

        bool ok = r.Error is null
            && r.Moved == options.Buffers
            && r.DriverVerified == options.Buffers
            && (options.Segments == 1 || r.DeviceVerified == options.Buffers);
        if (!ok)
        {
            AnsiConsole.MarkupLine($"[red]FAILED[/]: {Markup.Escape(r.Error ?? "not every buffer was moved and verified")}");
            return 1;
        }

        AnsiConsole.MarkupLine("[green]OK[/]: every payload verified end to end");
        return 0;
    }

    private static string Format(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
