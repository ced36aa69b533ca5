#ifndef FLEET_CSYSTEMD_H
#define FLEET_CSYSTEMD_H

/* libsystemd's D-Bus client (sd-bus). Every function fleet calls is non-variadic:
 * Swift cannot call the `...` ones (sd_bus_call_method, sd_bus_message_append, ...). */
#include <systemd/sd-bus.h>

/* sd-journal: `fleetctl journal` is answered from the journal of the unit's machine. */
#include <systemd/sd-journal.h>

/* eventfd(2) wakes the sd-bus thread when work is queued; Swift's Glibc module does not
 * include this header. */
#include <sys/eventfd.h>

#endif
