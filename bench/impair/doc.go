// Package impair is an impaired network link for fault tests: a
// point-to-point IPv4 link between the caller's network namespace (the
// "host") and a network namespace the package creates, through two TUN
// devices with a Go forwarder in between that delays, jitters, reorders,
// duplicates, rate-limits and drops packets, and can black-hole the link
// (every packet dropped both ways, silently: the peers see neither FIN nor
// RST, as when a NAT entry expires or a cable is pulled).
//
//	l, err := impair.New("echo", impair.Config{Loss: 0.05, Delay: 20 * time.Millisecond})
//	defer l.Close()
//	srv.Start(net.JoinHostPort(l.HostAddr().String(), "0"))
//	c := client.New(url, client.WithNetDial(l.DialContext)) // socket in the namespace
//	l.Blackhole(true)                                         // a half-open link
//
// # Why not tc netem
//
// The obvious tool, iproute2's tc netem on a veth pair, needs the kernel's
// sch_netem (CONFIG_NET_SCH_NETEM). The kernels this project is tested on
// (CI containers, no loadable modules) are built without it: "tc qdisc add
// dev X root netem delay 10ms" fails with "Specified qdisc kind is
// unknown", and there is no modprobe to load it. Network namespaces, veth
// and TUN (/dev/net/tun, CONFIG_TUN) are there, so the impairment moves to
// user space: the kernel routes the peer's address to a TUN device, the
// forwarder reads each IP packet from it and, after its verdict, writes it
// to the other TUN device, from which the other namespace's kernel
// receives it. Only root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and the ip command
// are needed; Supported reports why a machine cannot run it.
//
// # What is modelled
//
// Every packet in each direction, independently:
//   - Loss: dropped with probability Loss.
//   - Delay and Jitter: held for Delay plus a uniform random offset in
//     [-Jitter, +Jitter] (never negative). Jitter alone does not reorder:
//     a packet is never released before the one admitted before it, as on
//     a real queue.
//   - Reorder: with probability Reorder a packet is held back for an extra
//     max(Delay+Jitter, 5 ms), so the packets that follow it overtake it.
//   - Duplicate: with probability Duplicate a second copy is sent with it.
//   - Rate: the link serialises Rate bytes per second per direction; the
//     queue (QueueLimit packets) overflows, dropping, when it is exceeded.
//   - Blackhole: every packet, including those already queued, is dropped.
//
// Counters of each verdict are in Stats. The link carries IPv4 only (IPv6
// is disabled on both devices); MTU is 1500.
//
// # Names and cleanup
//
// Namespaces are named wsimpair-<pid>-<n> and host devices wsi<pid>x<n>,
// so links of parallel tests and processes do not collide. A namespace
// whose process died without Close is removed by the next New of any
// process. Each link takes a block of four addresses in 10.213.0.0/16
// (host .1, namespace .2 of the block, configured as point-to-point /32
// peers), one that no device of the host has.
package impair
