
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * Counters of what the gateway decided, in a shared memory zone of the
 * module's own (summed across worker processes, kept across reloads).  The
 * stores, the limiter and the filter count; the tfa_resend_metrics page
 * (ngx_http_tfa_resend_metrics_page.c) reads them.
 *
 * The counting calls take no lock: one or two atomic adds each.  They may
 * be called from any worker at any time; with no counters set up (no
 * tfa_resend_metrics page in the configuration) they do nothing.
 */


#ifndef _NGX_HTTP_TFA_RESEND_METRICS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_status.h"
#include "ngx_http_tfa_resend_store.h"


#define NGX_HTTP_TFA_RESEND_METRICS_CODES         3   /* 2xx 4xx 5xx */
#define NGX_HTTP_TFA_RESEND_METRICS_UP_BOUNDS     11  /* le= but +Inf */
#define NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS  9


/* the fixed label values; each enum's order is the page's */

/* tfa_resend_requests_total{outcome}: every intercepted resend, once */
typedef enum {
    NGX_HTTP_TFA_RESEND_METRICS_FORWARDED = 0,    /* the upstream answered */
    NGX_HTTP_TFA_RESEND_METRICS_UPSTREAM_FAILED,  /* 502/504 of the gateway */
    NGX_HTTP_TFA_RESEND_METRICS_LIMITED,          /* refused by the limiter */
    NGX_HTTP_TFA_RESEND_METRICS_INVALID,          /* 400, 405, 413, 415 */
    NGX_HTTP_TFA_RESEND_METRICS_UNAVAILABLE,      /* 503: cannot decide */
    NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES
} ngx_http_tfa_resend_metrics_outcome_e;


/* tfa_resend_limit_decisions_total{zone,decision} */
typedef enum {
    NGX_HTTP_TFA_RESEND_METRICS_PASSED = 0,
    NGX_HTTP_TFA_RESEND_METRICS_REJECTED,
    NGX_HTTP_TFA_RESEND_METRICS_REJECTED_DRY_RUN,
    NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_ALLOWED,   /* on_store_error= */
    NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_REJECTED,
    NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_LOCAL,
    NGX_HTTP_TFA_RESEND_METRICS_DECISIONS
} ngx_http_tfa_resend_metrics_decision_e;


/* tfa_resend_store_errors_total{zone,reason} */
typedef enum {
    NGX_HTTP_TFA_RESEND_METRICS_CONNECT = 0,
    NGX_HTTP_TFA_RESEND_METRICS_TIMEOUT,
    NGX_HTTP_TFA_RESEND_METRICS_AUTH,
    NGX_HTTP_TFA_RESEND_METRICS_REPLY,
    NGX_HTTP_TFA_RESEND_METRICS_ZONE_FULL,
    NGX_HTTP_TFA_RESEND_METRICS_REASONS
} ngx_http_tfa_resend_metrics_reason_e;


/* a histogram's bucket */

typedef struct {
    ngx_uint_t                          usec;     /* upper bound, included */
    char                               *le;       /* as printed */
} ngx_http_tfa_resend_metrics_bound_t;


/*
 * The counters: those without a zone, and one zone's; ngx_atomic_t only,
 * so that they copy as arrays.  A histogram keeps a count per bucket (not
 * cumulative: one add per observation), its last bucket +Inf, and the sum
 * in microseconds.
 */

typedef struct {
    ngx_atomic_t  requests[NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES];
    ngx_atomic_t  call_status[NGX_HTTP_TFA_RESEND_CALL_STATUSES];
    ngx_atomic_t  upstream[NGX_HTTP_TFA_RESEND_METRICS_CODES];
    ngx_atomic_t  upstream_seconds[NGX_HTTP_TFA_RESEND_METRICS_UP_BOUNDS + 1];
    ngx_atomic_t  upstream_usec;                        /* the sum */
} ngx_http_tfa_resend_metrics_counters_t;


typedef struct {
    ngx_atomic_t  decisions[NGX_HTTP_TFA_RESEND_METRICS_DECISIONS];
    ngx_atomic_t  refunds;
    ngx_atomic_t  store_errors[NGX_HTTP_TFA_RESEND_METRICS_REASONS];
    ngx_atomic_t  store_seconds[NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS + 1];
    ngx_atomic_t  store_usec;                           /* the sum */
} ngx_http_tfa_resend_metrics_zone_counters_t;


/* one tfa_resend_limit_zone, in the order of registration */

typedef struct {
    ngx_str_t                           name;
    ngx_http_tfa_resend_store_t        *store;
    ngx_http_tfa_resend_metrics_zone_counters_t  *counters;  /* set up */
    ngx_uint_t                          index;    /* in the shared zone */
} ngx_http_tfa_resend_metrics_zone_t;


extern ngx_http_tfa_resend_metrics_bound_t
    ngx_http_tfa_resend_metrics_upstream_bounds[];
extern ngx_http_tfa_resend_metrics_bound_t
    ngx_http_tfa_resend_metrics_store_bounds[];


/* request time: counting */

/*
 * A clock for the histograms, in microseconds (monotonic), or 0 when
 * nothing is counted: a time taken as 0 is not observed.
 */
uint64_t ngx_http_tfa_resend_metrics_clock(void);

void ngx_http_tfa_resend_metrics_request(
    ngx_http_tfa_resend_metrics_outcome_e outcome);

/*
 * call_status: the canonical callStatus sent, one of the normalizer's 11
 * values (as ctx->call_status holds it); anything else is not counted.
 */
void ngx_http_tfa_resend_metrics_call_status(const char *call_status);

/* status: the upstream's HTTP status; only 2xx, 4xx and 5xx are counted */
void ngx_http_tfa_resend_metrics_upstream_status(ngx_uint_t status);

/* from forwarding to the upstream's complete answer, in microseconds */
void ngx_http_tfa_resend_metrics_upstream_time(ngx_uint_t usec);

/*
 * Per limit zone: slot is what ngx_http_tfa_resend_metrics_add_zone()
 * returned for the zone; a negative slot is not counted.
 */
void ngx_http_tfa_resend_metrics_decision(ngx_int_t slot,
    ngx_http_tfa_resend_metrics_decision_e decision);
void ngx_http_tfa_resend_metrics_refund(ngx_int_t slot);
void ngx_http_tfa_resend_metrics_store_error(ngx_int_t slot,
    ngx_http_tfa_resend_metrics_reason_e reason);

/* a Redis round trip of one admission, in microseconds */
void ngx_http_tfa_resend_metrics_store_time(ngx_int_t slot, ngx_uint_t usec);


/* configuration time */

/*
 * Registers a tfa_resend_limit_zone (its store made: type, name, shm_zone
 * set) and returns its slot, from 0 in the order of registration, or
 * NGX_ERROR.  The page lists zones in that order.
 */
ngx_int_t ngx_http_tfa_resend_metrics_add_zone(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store);

/* a tfa_resend_metrics page reads the counters: they are set up */
ngx_int_t ngx_http_tfa_resend_metrics_want(ngx_conf_t *cf);

/*
 * Postconfiguration: adds the counters' zone when some location has
 * tfa_resend_metrics, after every zone is registered.
 */
ngx_int_t ngx_http_tfa_resend_metrics_init(ngx_conf_t *cf);


/* the page's reading */

/*
 * The counters of r's configuration and its zones (*n of them, in the
 * order of registration), or NULL when none are set up.
 */
ngx_http_tfa_resend_metrics_counters_t *ngx_http_tfa_resend_metrics_read(
    ngx_http_request_t *r, ngx_http_tfa_resend_metrics_zone_t **zones,
    ngx_uint_t *n);


#endif /* _NGX_HTTP_TFA_RESEND_METRICS_H_INCLUDED_ */
