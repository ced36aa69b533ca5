// dns-floor: the least a UDP DNS server can do per query on this kernel, as a peer in
// scripts/bench-dns. It is not a DNS server: it sends every datagram back with the response and
// authoritative bits set and no records, so its cost is the kernel's: one recvmmsg of up to 64
// datagrams (MSG_WAITFORONE, as fleet-dns), one sendmmsg of the replies, no parsing, nothing
// allocated. A server's CPU per query can only come near this figure, not below it, without
// changing the work the kernel does per datagram.
//
//   dns-floor PORT        (binds 127.0.0.1:PORT; runs until killed)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEPTH 64
#define DATAGRAM_BYTES 512
#define HEADER_BYTES 12

int main(int argc, char **argv) {
    char *end = NULL;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "usage: dns-floor PORT\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("dns-floor");
        return 1;
    }
    static char datagrams[DEPTH][DATAGRAM_BYTES];
    static struct sockaddr_storage sources[DEPTH];
    static struct iovec in_vectors[DEPTH], out_vectors[DEPTH];
    static struct mmsghdr in_headers[DEPTH], out_headers[DEPTH];
    for (int i = 0; i < DEPTH; i++) {
        in_vectors[i] = (struct iovec){.iov_base = datagrams[i], .iov_len = DATAGRAM_BYTES};
        in_headers[i].msg_hdr = (struct msghdr){.msg_name = &sources[i], .msg_iov = &in_vectors[i], .msg_iovlen = 1};
    }
    for (;;) {
        for (int i = 0; i < DEPTH; i++) in_headers[i].msg_hdr.msg_namelen = sizeof sources[i];
        int count = recvmmsg(fd, in_headers, DEPTH, MSG_WAITFORONE, NULL);
        if (count < 0 && errno != EINTR) {
            perror("dns-floor: recvmmsg");
            return 1;
        }
        int replies = 0;
        for (int i = 0; i < count; i++) {
            unsigned int length = in_headers[i].msg_len;
            if (length < HEADER_BYTES || length > DATAGRAM_BYTES) continue;  // not a query, or cut short
            datagrams[i][2] |= (char)0x84;  // QR and AA
            datagrams[i][3] &= (char)0x70;  // RA off, RCODE NOERROR
            out_vectors[replies] = (struct iovec){.iov_base = datagrams[i], .iov_len = length};
            out_headers[replies].msg_hdr = (struct msghdr){.msg_name = &sources[i],
                .msg_namelen = in_headers[i].msg_hdr.msg_namelen, .msg_iov = &out_vectors[replies], .msg_iovlen = 1};
            replies++;
        }
        for (int sent = 0; sent < replies;) {
            int result = sendmmsg(fd, out_headers + sent, (unsigned int)(replies - sent), 0);
            if (result > 0) sent += result;
            else if (result < 0 && errno == EINTR) continue;
            else sent++;  // an asker that cannot be reached loses its reply, as UDP may
        }
    }
}
