#ifndef CVRRP_SYSTEM_H
#define CVRRP_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// Reads the interface's hardware address into mac[6]. Returns 0 or -errno.
int cvrrp_interface_mac(const char *ifname, uint8_t mac[6]);

/// Sends `count` gratuitous ARP requests for ipv4 (network order) from the interface, as
/// keepalived does: sender and target IP the address, target MAC ff:ff:ff:ff:ff:ff, broadcast.
/// `as_reply`: unsolicited ARP replies instead (same addresses), which no host answers.
/// Returns the number sent, or -errno.
int cvrrp_send_garp(int ifindex, const uint8_t mac[6], const uint8_t ipv4[4], int count, int as_reply);

/// An AF_PACKET socket that receives the ARP packets arriving on interface `ifindex`, with a
/// receive timeout of `timeout_ms` (so a reader can notice it should stop). Returns the fd or -errno.
int cvrrp_arp_listen(int ifindex, int timeout_ms);

/// Reads one packet from a `cvrrp_arp_listen` socket. Returns 1 for an IPv4-over-Ethernet ARP
/// packet that arrived from elsewhere (not one this host sent), with its operation (1 request,
/// 2 reply), sender MAC, sender and target IPv4; 0 for any other packet; -errno on failure
/// (-EAGAIN: the timeout passed).
int cvrrp_arp_receive(int fd, int *op, uint8_t sha[6], uint8_t sip[4], uint8_t tip[4]);

/// Sends `count` unsolicited neighbour advertisements (override flag) for ipv6 to ff02::1 with
/// hop limit 255 from the interface. Returns the number sent, or -errno.
int cvrrp_send_unsolicited_na(int ifindex, const uint8_t mac[6], const uint8_t ipv6[16], int count);

/// recvmsg on an IPv6 raw socket with IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT on: the
/// payload, the source, the destination and the hop limit. Returns the length or -errno.
ssize_t cvrrp_recv6(int fd, uint8_t *buf, size_t len, uint8_t src[16], uint8_t dst[16], int *hoplimit);

/// Sends an IPv4 raw packet to dst with source address src (IP_PKTINFO's ipi_spec_dst): for a
/// socket on an interface that has no address of its own, or whose first address is a virtual
/// one (a VMAC). Returns the length sent or -errno.
ssize_t cvrrp_send4_from(int fd, const uint8_t *buf, size_t len, const uint8_t dst[4], const uint8_t src[4]);

/// Sets the IPv6 raw socket options a VRRP socket needs: checksum at offset 6 (kernel computes
/// and verifies with the pseudo-header), pktinfo and hop limit on receive. Returns 0 or -errno.
int cvrrp_setup_ipv6(int fd);

/// SOCK_DESTROY on every TCP socket, listeners excepted, whose local address is `addr` (4 bytes
/// for AF_INET, 16 for AF_INET6, network order) and local port `port` (any for a negative one): the kernel closes each
/// and sends its peer an RST. Returns how many were destroyed, or -errno.
int cvrrp_destroy_tcp(int family, const uint8_t *addr, int port);

/// The peers (remote address, zero-padded to 16 bytes, and port) of the established or
/// close-wait TCP sockets whose local end is `addr`:`port`: up to `max` into `peers` (16 bytes
/// each) and `ports`. Returns how many, or -errno.
int cvrrp_list_tcp_peers(int family, const uint8_t *addr, int port, uint8_t *peers, uint16_t *ports, int max);

/// The 20-byte TCP segment a tickle sends: ACK, sequence and acknowledgement 0, window 1234,
/// checksum over the pseudo-header of `family`.
void cvrrp_tcp_ack_segment(int family, const uint8_t *src, int sport, const uint8_t *dst, int dport, uint8_t *segment);

/// A "tickle ACK" (as CTDB sends after taking over an address): that segment from
/// `src`:`sport` to `dst`:`dport` over a raw socket bound to `src`. The peer, whose connection
/// to `src` lived on another host, answers out of window with its own ACK, and this host's
/// kernel, which has no such connection, resets it: the peer learns at once instead of at its
/// next retransmission. Returns 0 or -errno.
int cvrrp_tcp_tickle(int family, const uint8_t *src, int sport, const uint8_t *dst, int dport);

/// Looks up the link named `name` (RTM_GETLINK): its index, the index of the link it sits on
/// (IFLA_LINK, 0 if none), its MAC, its kind (IFLA_INFO_KIND, "" for a device) and, for a
/// macvlan, its mode. Returns 1 when found, 0 when there is no such link, or -errno.
int cvrrp_link_query(const char *name, int *ifindex, int *base, uint8_t mac[6], char kind[16], uint32_t *mode);

/// Creates a macvlan `name` on link `base` in private mode with `mac` (RTM_NEWLINK, IFLA_LINKINFO
/// kind "macvlan") and sets its IPv6 address generation to none; it stays down (`cvrrp_link_up`).
/// Returns its interface index, or -errno (-EEXIST: the name is taken).
int cvrrp_macvlan_create(const char *name, int base, const uint8_t mac[6]);

/// Sets the link administratively up. Returns 0 or -errno.
int cvrrp_link_up(int ifindex);

/// Deletes the link (RTM_DELLINK). Returns 0 or -errno.
int cvrrp_link_delete(int ifindex);
#endif
