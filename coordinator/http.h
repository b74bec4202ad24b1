/* http.h -- migrd's HTTP API (libmicrohttpd, its own thread, read-only
 * database connection): /api/v1/runs, /api/v1/runs/{id}, /api/v1/datasets,
 * /api/v1/workers, /metrics (Prometheus text) and / (dashboard page). */
#ifndef MIGR_HTTP_H
#define MIGR_HTTP_H

#include "common/error.h"
#include "common/home.h"

typedef struct http_server http_server;

/* Start serving on home->http unless it is "off" (then *out stays NULL). */
int http_start(http_server **out, const migr_home *home, migr_err *err);
void http_stop(http_server **srv);

#endif
