/* clock.h -- milliseconds: wall time for records, monotonic time for timers. */
#ifndef MIGR_CLOCK_H
#define MIGR_CLOCK_H

#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);

#endif
