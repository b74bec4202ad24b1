/* stop.h -- SIGTERM and SIGINT as a request to stop, for the long-running
 * programs (migrd, migr-worker): the handler only raises a flag, which
 * their loops poll between messages and tasks. */
#ifndef MIGR_STOP_H
#define MIGR_STOP_H

/* Installs the handlers for SIGTERM and SIGINT and returns the flag they
 * set to 1 (0 until then).  Call it early, so that a signal during start-up
 * still ends in a clean stop. */
volatile int *stop_flag_install(void);

#endif
