#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>
#include "CBatchedSockets.h"

_Static_assert(sizeof(struct fleet_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct fleet_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

const int fleet_msg_dontwait = MSG_DONTWAIT;
const int fleet_msg_waitforone = MSG_WAITFORONE;

int fleet_recvmmsg(int fd, struct fleet_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

int fleet_sendmmsg(int fd, struct fleet_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}
