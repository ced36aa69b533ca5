// Linux's batched datagram calls (recvmmsg/sendmmsg) and their flags, which glibc declares only
// under _GNU_SOURCE, so Swift's Glibc module does not see them. The layout of
// fleet_mmsghdr is checked against the real struct mmsghdr where it is compiled.
#ifndef C_BATCHED_SOCKETS_H
#define C_BATCHED_SOCKETS_H

#include <sys/socket.h>

struct fleet_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg(2) without a timeout; returns the number of messages or -1 with errno set.
int fleet_recvmmsg(int fd, struct fleet_mmsghdr *messages, unsigned int count, int flags);

/// sendmmsg(2); returns the number of messages sent or -1 with errno set.
int fleet_sendmmsg(int fd, struct fleet_mmsghdr *messages, unsigned int count, int flags);

/// MSG_DONTWAIT and MSG_WAITFORONE, which Swift's Glibc module does not export.
extern const int fleet_msg_dontwait;
extern const int fleet_msg_waitforone;

#endif
