// VhostUserNet: a vhost-user net daemon. Each --socket is one guest's virtio-net device; by default the devices are
// ports of one switch, so guests on one daemon talk to each other directly. Ctrl-C or SIGTERM stops it cleanly.
// The command line is in DaemonCommandLine (tests parse it in-process).
return VhostUserNet.DaemonCommandLine.Invoke(args);
