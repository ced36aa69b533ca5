#ifndef FLEET_CAVAHI_H
#define FLEET_CAVAHI_H

/* libavahi-client (libavahi-client-dev): publishing DNS-SD services through the local
 * avahi-daemon, which it reaches over the system D-Bus. The variadic calls
 * (avahi_entry_group_add_service, avahi_string_list_new) are unavailable in Swift; the bridge
 * uses the *_strlst variants with lists built by avahi_string_list_add. */
#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <avahi-common/watch.h>

#endif
