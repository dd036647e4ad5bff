#define _GNU_SOURCE
#include "cvrrp_system.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <stdlib.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

int cvrrp_interface_mac(const char *ifname, uint8_t mac[6]) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int err = errno;
    close(fd);
    if (rc < 0) return -err;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

/* One packet socket for every gratuitous ARP of the process, opened at the first and kept:
 * closing a packet socket waits for an RCU grace period in the kernel (packet_release's
 * synchronize_net), about 12 ms on the lab's machine, and each burst opened and closed its own.
 * That held up the first advert after the addresses' gratuitous ARPs, and so the previous
 * holder's departure, by as much. Protocol 0: it sends (the protocol is given per packet) and
 * receives nothing. */
static pthread_mutex_t garp_lock = PTHREAD_MUTEX_INITIALIZER;
static int garp_fd = -1;

static int garp_socket(void) {
    pthread_mutex_lock(&garp_lock);
    if (garp_fd < 0) {
        int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) fd = -errno;
        garp_fd = fd < 0 ? -1 : fd;
        pthread_mutex_unlock(&garp_lock);
        return fd;
    }
    int fd = garp_fd;
    pthread_mutex_unlock(&garp_lock);
    return fd;
}

int cvrrp_send_garp(int ifindex, const uint8_t mac[6], const uint8_t ipv4[4], int count, int as_reply) {
    int fd = garp_socket();
    if (fd < 0) return fd;
    uint8_t arp[28];
    arp[0] = 0; arp[1] = 1;          /* Ethernet */
    arp[2] = 0x08; arp[3] = 0x00;    /* IPv4 */
    arp[4] = 6; arp[5] = 4;
    arp[6] = 0; arp[7] = as_reply ? 2 : 1;   /* reply (unsolicited) or request */
    memcpy(arp + 8, mac, 6);
    memcpy(arp + 14, ipv4, 4);
    memset(arp + 18, 0xff, 6);
    memcpy(arp + 24, ipv4, 4);
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    memset(to.sll_addr, 0xff, 6);
    int sent = 0, err = 0;
    for (int i = 0; i < count; i++) {
        if (sendto(fd, arp, sizeof arp, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof arp) sent++;
        else err = errno;
    }
    return sent > 0 || count == 0 ? sent : -err;
}

int cvrrp_arp_listen(int ifindex, int timeout_ms) {
    /* Protocol 0 until bound: nothing queued from other interfaces meanwhile. */
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_ll at;
    memset(&at, 0, sizeof at);
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ARP);
    at.sll_ifindex = ifindex;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (bind(fd, (struct sockaddr *)&at, sizeof at) < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cvrrp_arp_receive(int fd, int *op, uint8_t sha[6], uint8_t sip[4], uint8_t tip[4]) {
    uint8_t arp[64];
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(fd, arp, sizeof arp, 0, (struct sockaddr *)&from, &fromlen);
    if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (from.sll_pkttype == PACKET_OUTGOING || n < 28) return 0;
    /* Ethernet (1), IPv4 (0x0800), 6-byte hardware and 4-byte protocol addresses. */
    if (arp[0] != 0 || arp[1] != 1 || arp[2] != 0x08 || arp[3] != 0x00 || arp[4] != 6 || arp[5] != 4) return 0;
    *op = (arp[6] << 8) | arp[7];
    memcpy(sha, arp + 8, 6);
    memcpy(sip, arp + 14, 4);
    memcpy(tip, arp + 24, 4);
    return 1;
}

int cvrrp_send_unsolicited_na(int ifindex, const uint8_t mac[6], const uint8_t ipv6[16], int count) {
    int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    if (fd < 0) return -errno;
    int hops = 255;
    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
    uint8_t na[32];
    memset(na, 0, sizeof na);
    na[0] = ND_NEIGHBOR_ADVERT;
    na[4] = 0x20;                    /* override */
    memcpy(na + 8, ipv6, 16);
    na[24] = ND_OPT_TARGET_LINKADDR;
    na[25] = 1;
    memcpy(na + 26, mac, 6);
    struct sockaddr_in6 to;
    memset(&to, 0, sizeof to);
    to.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
    to.sin6_scope_id = ifindex;
    int sent = 0;
    for (int i = 0; i < count; i++) {
        if (sendto(fd, na, sizeof na, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof na) sent++;
    }
    int err = errno;
    close(fd);
    return sent > 0 || count == 0 ? sent : -err;
}

ssize_t cvrrp_recv6(int fd, uint8_t *buf, size_t len, uint8_t src[16], uint8_t dst[16], int *hoplimit) {
    struct sockaddr_in6 from;
    char control[256];
    struct iovec iov = { buf, len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return -errno;
    memcpy(src, &from.sin6_addr, 16);
    memset(dst, 0, 16);
    *hoplimit = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof info);
            memcpy(dst, &info.ipi6_addr, 16);
        } else if (c->cmsg_type == IPV6_HOPLIMIT) {
            memcpy(hoplimit, CMSG_DATA(c), sizeof(int));
        }
    }
    return n;
}

ssize_t cvrrp_send4_from(int fd, const uint8_t *buf, size_t len, const uint8_t dst[4], const uint8_t src[4]) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    memcpy(&to.sin_addr, dst, 4);
    struct iovec iov = { (void *)buf, len };
    union { char buf[CMSG_SPACE(sizeof(struct in_pktinfo))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo info;
    memset(&info, 0, sizeof info);
    memcpy(&info.ipi_spec_dst, src, 4);
    memcpy(CMSG_DATA(c), &info, sizeof info);
    ssize_t n = sendmsg(fd, &msg, 0);
    return n < 0 ? -errno : n;
}

int cvrrp_setup_ipv6(int fd) {
    int offset = 6, on = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset) < 0) return -errno;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0) return -errno;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0) return -errno;
    return 0;
}

/* A sock_diag request for TCP sockets of `family`: a dump (NLM_F_DUMP) or one socket's destroy. */
struct diag_request {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
};

static void diag_request(struct diag_request *r, uint16_t type, uint16_t flags, uint32_t seq, int family,
                         uint32_t states) {
    memset(r, 0, sizeof *r);
    r->nlh.nlmsg_len = sizeof *r;
    r->nlh.nlmsg_type = type;
    r->nlh.nlmsg_flags = flags;
    r->nlh.nlmsg_seq = seq;
    r->req.sdiag_family = (uint8_t)family;
    r->req.sdiag_protocol = IPPROTO_TCP;
    r->req.idiag_states = states;
}

/* Dumps the TCP sockets of `family` in `states` (a bit per TCP state) over `fd` and collects the
   ids of those whose local end is addr:port (any port for a negative one) into a malloc'd array.
   Returns how many (*ids set, to be freed), or -errno. */
static int collect_tcp_ids(int fd, int family, uint32_t states, const uint8_t *addr, int port,
                           struct inet_diag_sockid **out) {
    size_t alen = family == AF_INET ? 4 : 16;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct diag_request request;
    diag_request(&request, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, family, states);
    if (sendto(fd, &request, sizeof request, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    char *buf = malloc(65536);
    if (!buf) return -ENOMEM;
    struct inet_diag_sockid *ids = NULL;
    size_t count = 0, capacity = 0;
    int done = 0, failure = 0;
    while (!done && !failure) {
        ssize_t len = recv(fd, buf, 65536, 0);
        if (len < 0) {
            if (errno == EINTR) continue;
            failure = -errno;
            break;
        }
        if (len == 0) break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE) { done = 1; break; }
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *err = NLMSG_DATA(h);
                failure = err->error ? err->error : -EIO;
                break;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
            struct inet_diag_msg *msg = NLMSG_DATA(h);
            if ((port >= 0 && ntohs(msg->id.idiag_sport) != port) || memcmp(msg->id.idiag_src, addr, alen) != 0) continue;
            if (count == capacity) {
                size_t grown = capacity ? capacity * 2 : 64;
                struct inet_diag_sockid *more = realloc(ids, grown * sizeof *ids);
                if (!more) { failure = -ENOMEM; break; }
                ids = more;
                capacity = grown;
            }
            ids[count++] = msg->id;
        }
    }
    free(buf);
    if (failure) { free(ids); return failure; }
    *out = ids;
    return (int)count;
}

int cvrrp_destroy_tcp(int family, const uint8_t *addr, int port) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -errno;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    /* The matching sockets' ids (every state but TCP_LISTEN, 10), collected before any is destroyed. */
    struct inet_diag_sockid *ids = NULL;
    int count = collect_tcp_ids(fd, family, ~(1u << 10), addr, port, &ids);
    if (count < 0) { close(fd); return count; }
    char buf[4096];
    int destroyed = 0, failure = 0;
    for (int i = 0; i < count && !failure; i++) {
        struct diag_request destroy;
        diag_request(&destroy, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, (uint32_t)(2 + i), family, ~0u);
        destroy.req.id = ids[i];
        if (sendto(fd, &destroy, sizeof destroy, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
            failure = -errno;
            break;
        }
        ssize_t len;
        do { len = recv(fd, buf, sizeof buf, 0); } while (len < 0 && errno == EINTR);
        if (len >= (ssize_t)sizeof(struct nlmsghdr)) {
            struct nlmsghdr *h = (struct nlmsghdr *)buf;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *err = NLMSG_DATA(h);
                if (err->error == 0) destroyed++;
                else if (err->error != -ENOENT) failure = err->error;  /* gone meanwhile: fine */
            }
        }
    }
    free(ids);
    close(fd);
    return failure && destroyed == 0 ? failure : destroyed;
}

int cvrrp_list_tcp_peers(int family, const uint8_t *addr, int port, uint8_t *peers, uint16_t *ports, int max) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -errno;
    /* established (1) and close-wait (8): a peer that may still be talking */
    struct inet_diag_sockid *ids = NULL;
    int count = collect_tcp_ids(fd, family, (1u << 1) | (1u << 8), addr, port, &ids);
    close(fd);
    if (count < 0) return count;
    size_t alen = family == AF_INET ? 4 : 16;
    int listed = 0;
    for (int i = 0; i < count && listed < max; i++, listed++) {
        memset(peers + 16 * listed, 0, 16);
        memcpy(peers + 16 * listed, ids[i].idiag_dst, alen);
        ports[listed] = ntohs(ids[i].idiag_dport);
    }
    free(ids);
    return listed;
}

static uint32_t checksum_add(uint32_t sum, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

void cvrrp_tcp_ack_segment(int family, const uint8_t *src, int sport, const uint8_t *dst, int dport, uint8_t *segment) {
    memset(segment, 0, 20);
    segment[0] = (uint8_t)(sport >> 8); segment[1] = (uint8_t)sport;
    segment[2] = (uint8_t)(dport >> 8); segment[3] = (uint8_t)dport;
    /* sequence and acknowledgement numbers 0: outside any window the peer keeps */
    segment[12] = 5 << 4;            /* data offset: 5 words, no options */
    segment[13] = 0x10;              /* ACK */
    segment[14] = 0x04; segment[15] = 0xd2;  /* window 1234, as CTDB's tickle */
    uint8_t pseudo[40];
    size_t plen;
    if (family == AF_INET) {
        memcpy(pseudo, src, 4); memcpy(pseudo + 4, dst, 4);
        pseudo[8] = 0; pseudo[9] = IPPROTO_TCP; pseudo[10] = 0; pseudo[11] = 20;
        plen = 12;
    } else {
        memcpy(pseudo, src, 16); memcpy(pseudo + 16, dst, 16);
        memset(pseudo + 32, 0, 8);
        pseudo[35] = 20; pseudo[39] = IPPROTO_TCP;
        plen = 40;
    }
    uint32_t sum = checksum_add(checksum_add(0, pseudo, plen), segment, 20);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    uint16_t folded = (uint16_t)~sum;
    segment[16] = (uint8_t)(folded >> 8); segment[17] = (uint8_t)folded;
}

int cvrrp_tcp_tickle(int family, const uint8_t *src, int sport, const uint8_t *dst, int dport) {
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return -errno;
    uint8_t segment[20];
    cvrrp_tcp_ack_segment(family, src, sport, dst, dport, segment);
    int result = 0;
    if (family == AF_INET) {
        struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
        memcpy(&from.sin_addr, src, 4);
        memcpy(&to.sin_addr, dst, 4);
        if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0 ||
            sendto(fd, segment, sizeof segment, 0, (struct sockaddr *)&to, sizeof to) < 0) result = -errno;
    } else {
        struct sockaddr_in6 from = {.sin6_family = AF_INET6}, to = {.sin6_family = AF_INET6};
        memcpy(&from.sin6_addr, src, 16);
        memcpy(&to.sin6_addr, dst, 16);
        int on = 1;
        setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &on, sizeof on);
        if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0 ||
            sendto(fd, segment, sizeof segment, 0, (struct sockaddr *)&to, sizeof to) < 0) result = -errno;
    }
    close(fd);
    return result;
}

/* ---- links (use_vmac): RTM_NEWLINK / RTM_GETLINK / RTM_DELLINK on NETLINK_ROUTE ---- */

struct link_request {
    struct nlmsghdr nlh;
    struct ifinfomsg ifi;
    char attributes[256];
};

static struct rtattr *add_attribute(struct link_request *r, uint16_t type, const void *data, size_t len) {
    struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nlh.nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(a), data, len);
    r->nlh.nlmsg_len = NLMSG_ALIGN(r->nlh.nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

/* A nested attribute's end: its length covers what was added since `start`. */
static void end_nest(struct link_request *r, struct rtattr *start) {
    start->rta_len = (unsigned short)((char *)r + r->nlh.nlmsg_len - (char *)start);
}

static void link_request(struct link_request *r, uint16_t type, uint16_t flags, int ifindex) {
    memset(r, 0, sizeof *r);
    r->nlh.nlmsg_len = NLMSG_LENGTH(sizeof r->ifi);
    r->nlh.nlmsg_type = type;
    r->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
    r->nlh.nlmsg_seq = 1;
    r->ifi.ifi_family = AF_UNSPEC;
    r->ifi.ifi_index = ifindex;
}

static int route_socket(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct timeval timeout = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

/* Sends the request and waits for its acknowledgement: 0 or -errno. */
static int link_transaction(int fd, struct link_request *r) {
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    r->nlh.nlmsg_flags |= NLM_F_ACK;
    if (sendto(fd, r, r->nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    char buf[8192];
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == r->nlh.nlmsg_seq) {
                struct nlmsgerr *err = NLMSG_DATA(h);
                return err->error;
            }
        }
    }
}

int cvrrp_link_query(const char *name, int *ifindex, int *base, uint8_t mac[6], char kind[16], uint32_t *mode) {
    int fd = route_socket();
    if (fd < 0) return fd;
    struct link_request r;
    link_request(&r, RTM_GETLINK, 0, 0);
    add_attribute(&r, IFLA_IFNAME, name, strlen(name) + 1);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &r, r.nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *ifindex = 0; *base = 0; *mode = 0;
    memset(mac, 0, 6);
    memset(kind, 0, 16);
    static char buf[32768];
    int result = -EIO;
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len < 0) {
            if (errno == EINTR) continue;
            result = -errno;
            break;
        }
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (!NLMSG_OK(h, (size_t)len)) break;
        if (h->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *err = NLMSG_DATA(h);
            result = err->error == -ENODEV ? 0 : err->error;
            break;
        }
        if (h->nlmsg_type != RTM_NEWLINK) continue;
        struct ifinfomsg *ifi = NLMSG_DATA(h);
        *ifindex = ifi->ifi_index;
        int left = (int)IFLA_PAYLOAD(h);
        for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
            if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= 4) memcpy(base, RTA_DATA(a), 4);
            else if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) memcpy(mac, RTA_DATA(a), 6);
            else if (a->rta_type == IFLA_LINKINFO) {
                int nleft = (int)RTA_PAYLOAD(a);
                for (struct rtattr *n = RTA_DATA(a); RTA_OK(n, nleft); n = RTA_NEXT(n, nleft)) {
                    if (n->rta_type == IFLA_INFO_KIND) {
                        size_t k = RTA_PAYLOAD(n) < 15 ? RTA_PAYLOAD(n) : 15;
                        memcpy(kind, RTA_DATA(n), k);
                        kind[15] = 0;
                    } else if (n->rta_type == IFLA_INFO_DATA) {
                        int dleft = (int)RTA_PAYLOAD(n);
                        for (struct rtattr *d = RTA_DATA(n); RTA_OK(d, dleft); d = RTA_NEXT(d, dleft)) {
                            if (d->rta_type == IFLA_MACVLAN_MODE && RTA_PAYLOAD(d) >= 4) memcpy(mode, RTA_DATA(d), 4);
                        }
                    }
                }
            }
        }
        result = 1;
        break;
    }
    close(fd);
    return result;
}

int cvrrp_macvlan_create(const char *name, int base, const uint8_t mac[6]) {
    int fd = route_socket();
    if (fd < 0) return fd;
    struct link_request r;
    link_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    add_attribute(&r, IFLA_IFNAME, name, strlen(name) + 1);
    add_attribute(&r, IFLA_LINK, &base, sizeof base);
    add_attribute(&r, IFLA_ADDRESS, mac, 6);
    struct rtattr *info = add_attribute(&r, IFLA_LINKINFO, NULL, 0);
    add_attribute(&r, IFLA_INFO_KIND, "macvlan", 7);
    struct rtattr *data = add_attribute(&r, IFLA_INFO_DATA, NULL, 0);
    uint32_t mode = MACVLAN_MODE_PRIVATE;
    add_attribute(&r, IFLA_MACVLAN_MODE, &mode, sizeof mode);
    end_nest(&r, data);
    end_nest(&r, info);
    int rc = link_transaction(fd, &r);
    int ifindex = rc == 0 ? (int)if_nametoindex(name) : 0;
    if (rc == 0 && ifindex == 0) rc = -ENODEV;
    if (rc == 0) {
        /* No IPv6 address of its own (keepalived: addrgenmode none), before it goes up. */
        link_request(&r, RTM_NEWLINK, 0, ifindex);
        struct rtattr *spec = add_attribute(&r, IFLA_AF_SPEC, NULL, 0);
        struct rtattr *inet6 = add_attribute(&r, AF_INET6, NULL, 0);
        uint8_t gen = IN6_ADDR_GEN_MODE_NONE;
        add_attribute(&r, IFLA_INET6_ADDR_GEN_MODE, &gen, 1);
        end_nest(&r, inet6);
        end_nest(&r, spec);
        rc = link_transaction(fd, &r);
        if (rc == -EAFNOSUPPORT) rc = 0;  /* no IPv6 in this kernel: nothing to generate */
    }
    close(fd);
    return rc == 0 ? ifindex : rc;
}

int cvrrp_link_up(int ifindex) {
    int fd = route_socket();
    if (fd < 0) return fd;
    struct link_request r;
    link_request(&r, RTM_NEWLINK, 0, ifindex);
    r.ifi.ifi_flags = IFF_UP;
    r.ifi.ifi_change = IFF_UP;
    int rc = link_transaction(fd, &r);
    close(fd);
    return rc;
}

int cvrrp_link_delete(int ifindex) {
    int fd = route_socket();
    if (fd < 0) return fd;
    struct link_request r;
    link_request(&r, RTM_DELLINK, 0, ifindex);
    int rc = link_transaction(fd, &r);
    close(fd);
    return rc;
}
