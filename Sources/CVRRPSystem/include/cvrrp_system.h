#ifndef CVRRP_SYSTEM_H
#define CVRRP_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// Reads the interface's hardware address into mac[6]. Returns 0 or -errno.
int cvrrp_interface_mac(const char *ifname, uint8_t mac[6]);

/// Sends `count` gratuitous ARP requests for ipv4 (network order) from the interface, as
/// keepalived does: sender and target IP the address, target MAC ff:ff:ff:ff:ff:ff, broadcast.
/// Returns the number sent, or -errno.
int cvrrp_send_garp(int ifindex, const uint8_t mac[6], const uint8_t ipv4[4], int count);

/// Sends `count` unsolicited neighbour advertisements (override flag) for ipv6 to ff02::1 with
/// hop limit 255 from the interface. Returns the number sent, or -errno.
int cvrrp_send_unsolicited_na(int ifindex, const uint8_t mac[6], const uint8_t ipv6[16], int count);

/// recvmsg on an IPv6 raw socket with IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT on: the
/// payload, the source, the destination and the hop limit. Returns the length or -errno.
ssize_t cvrrp_recv6(int fd, uint8_t *buf, size_t len, uint8_t src[16], uint8_t dst[16], int *hoplimit);

/// Sets the IPv6 raw socket options a VRRP socket needs: checksum at offset 6 (kernel computes
/// and verifies with the pseudo-header), pktinfo and hop limit on receive. Returns 0 or -errno.
int cvrrp_setup_ipv6(int fd);

/// SOCK_DESTROY on every TCP socket, listeners excepted, whose local address is `addr` (4 bytes
/// for AF_INET, 16 for AF_INET6, network order) and local port `port` (any for a negative one): the kernel closes each
/// and sends its peer an RST. Returns how many were destroyed, or -errno.
int cvrrp_destroy_tcp(int family, const uint8_t *addr, int port);
#endif
