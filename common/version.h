/* version.h -- the release of migr every program reports (--version). */
#ifndef MIGR_VERSION_H
#define MIGR_VERSION_H

#define MIGR_VERSION "0.7.0"

#endif
