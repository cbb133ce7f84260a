
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * Counters in shared memory and the Prometheus page that shows them.
 *
 * One zone of the module's own, "tfa_resend:metrics" (a name no
 * tfa_resend_limit_zone can take: those stop at the ':'), holds one set of
 * counters that every worker adds to with ngx_atomic_fetch_add(): no lock
 * on the request path.  Its size follows from the number of limit zones,
 * rounded up to whole pages, so nothing is sized by hand.
 *
 * A reload keeps the counts.  With the same size (the usual case: the
 * pages hold room for more zones than are configured) nginx hands the same
 * memory to the new configuration, which the old workers still count
 * into while they finish.  The per-zone counters are found again by the
 * zone's name, so a zone renamed, added or moved in the configuration does
 * not take over another's counts.  With a new size (zones added past the
 * page's room) the new memory starts with a copy of the old, so only what
 * the old workers count after the copy is lost.  A restart starts at zero.
 *
 * Histograms keep a count per bucket (not cumulative: one add per
 * observation) and the sum in microseconds; the page adds the buckets up
 * and prints the sum in seconds, exactly.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_normalize.h"
#include "ngx_http_tfa_resend_shm.h"


#define NGX_HTTP_TFA_RESEND_METRICS_STATUSES          11  /* callStatus */
#define NGX_HTTP_TFA_RESEND_METRICS_CODES             3   /* 2xx 4xx 5xx */
#define NGX_HTTP_TFA_RESEND_METRICS_UP_BOUNDS         11  /* le= but +Inf */
#define NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS      9

/* the longest sample line but for the zone's label and the value */
#define NGX_HTTP_TFA_RESEND_METRICS_LINE              96

/* the families without a zone label: text and samples, with room to spare */
#define NGX_HTTP_TFA_RESEND_METRICS_FIXED_SIZE        8192

/* sample lines per zone: 6 + 1 + 5 + (9 + 1 + 2) + 1 + 1 */
#define NGX_HTTP_TFA_RESEND_METRICS_ZONE_LINES        26


typedef struct {
    ngx_uint_t                          usec;     /* upper bound, included */
    char                               *le;       /* as printed */
} ngx_http_tfa_resend_metrics_bound_t;


/*
 * Everything but for the zones, and then one zone's: ngx_atomic_t only, so
 * that they copy as arrays.  A histogram's last bucket is +Inf.
 */

typedef struct {
    ngx_atomic_t  requests[NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES];
    ngx_atomic_t  call_status[NGX_HTTP_TFA_RESEND_METRICS_STATUSES];
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


typedef struct {
    ngx_http_tfa_resend_metrics_zone_counters_t  counters;
    ngx_int_t                           slot;     /* in the configuration
                                                     that set it up last, or
                                                     -1: for a process that
                                                     attaches to the zone */
} ngx_http_tfa_resend_metrics_shzone_t;


typedef struct {
    ngx_http_tfa_resend_metrics_counters_t  counters;
    ngx_uint_t                          zones;    /* room in zone[] */
    ngx_http_tfa_resend_metrics_shzone_t  zone[1];
} ngx_http_tfa_resend_metrics_shctx_t;


/* one tfa_resend_limit_zone, in this configuration */

typedef struct {
    ngx_str_t                           name;
    ngx_str_t                           label;    /* zone="..." escaped */
    ngx_http_tfa_resend_store_t        *store;
    ngx_uint_t                          index;    /* in sh->zone[] */
} ngx_http_tfa_resend_metrics_slot_t;


struct ngx_http_tfa_resend_metrics_conf_s {
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_tfa_resend_metrics_shctx_t  *sh;     /* once the zone is set up */
    ngx_array_t                         slots;    /* ..._metrics_slot_t */
    size_t                              label_len;  /* the longest */
    ngx_uint_t                          page;     /* a tfa_resend_metrics */
};

typedef struct ngx_http_tfa_resend_metrics_conf_s
    ngx_http_tfa_resend_metrics_conf_t;


static ngx_http_tfa_resend_metrics_conf_t *ngx_http_tfa_resend_metrics_get(
    void);
static void ngx_http_tfa_resend_metrics_observe(ngx_atomic_t *buckets,
    ngx_atomic_t *sum, const ngx_http_tfa_resend_metrics_bound_t *bounds,
    ngx_uint_t n, ngx_uint_t usec);
static ngx_http_tfa_resend_metrics_zone_counters_t *
    ngx_http_tfa_resend_metrics_zone(ngx_int_t slot);
static ngx_int_t ngx_http_tfa_resend_metrics_handler(ngx_http_request_t *r);
static u_char *ngx_http_tfa_resend_metrics_write(u_char *p, u_char *last,
    ngx_http_tfa_resend_metrics_conf_t *conf);
static u_char *ngx_http_tfa_resend_metrics_family(u_char *p, u_char *last,
    ngx_uint_t family);
static u_char *ngx_http_tfa_resend_metrics_counters(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone, const char *label, char **values,
    ngx_atomic_t *counts, ngx_uint_t n);
static u_char *ngx_http_tfa_resend_metrics_histogram(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone,
    const ngx_http_tfa_resend_metrics_bound_t *bounds, ngx_uint_t n,
    ngx_atomic_t *buckets, ngx_atomic_t *sum);
static ngx_http_tfa_resend_metrics_conf_t *
    ngx_http_tfa_resend_metrics_conf(ngx_conf_t *cf);
static size_t ngx_http_tfa_resend_metrics_size(ngx_uint_t zones,
    ngx_uint_t *room);
static ngx_int_t ngx_http_tfa_resend_metrics_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_tfa_resend_metrics_assign(
    ngx_http_tfa_resend_metrics_conf_t *conf,
    ngx_http_tfa_resend_metrics_conf_t *oconf, ngx_log_t *log);
static void ngx_http_tfa_resend_metrics_copy(
    ngx_http_tfa_resend_metrics_conf_t *conf, ngx_shm_zone_t *shm_zone);
static void ngx_http_tfa_resend_metrics_copy_atomics(ngx_atomic_t *dst,
    ngx_atomic_t *src, size_t size);


static ngx_str_t  ngx_http_tfa_resend_metrics_zone_name =
    ngx_string("tfa_resend:metrics");


/* the page's families, in its order */

#define NGX_HTTP_TFA_RESEND_METRICS_REQUESTS          0
#define NGX_HTTP_TFA_RESEND_METRICS_CALL_STATUS       1
#define NGX_HTTP_TFA_RESEND_METRICS_UPSTREAM          2
#define NGX_HTTP_TFA_RESEND_METRICS_UPSTREAM_SECONDS  3
#define NGX_HTTP_TFA_RESEND_METRICS_LIMIT_DECISIONS   4
#define NGX_HTTP_TFA_RESEND_METRICS_LIMIT_REFUNDS     5
#define NGX_HTTP_TFA_RESEND_METRICS_STORE_ERRORS      6
#define NGX_HTTP_TFA_RESEND_METRICS_STORE_SECONDS     7
#define NGX_HTTP_TFA_RESEND_METRICS_ZONE_PINS         8
#define NGX_HTTP_TFA_RESEND_METRICS_ZONE_FREE_BYTES   9

static struct {
    char                               *name;
    char                               *type;
    char                               *help;
} ngx_http_tfa_resend_metrics_families[] = {

    { "tfa_resend_requests_total", "counter",
      "Intercepted resend requests by how they ended, counted once when "
      "the answer is sent." },

    { "tfa_resend_call_status_total", "counter",
      "Answers sent to intercepted resends by canonical callStatus." },

    { "tfa_resend_upstream_responses_total", "counter",
      "Answers of the upstream to forwarded resends by status class." },

    { "tfa_resend_upstream_response_seconds", "histogram",
      "Time from forwarding a resend to the upstream's complete answer." },

    { "tfa_resend_limit_decisions_total", "counter",
      "Decisions of the resend limiter by zone." },

    { "tfa_resend_limit_refunds_total", "counter",
      "Admissions taken back because no call was placed." },

    { "tfa_resend_store_errors_total", "counter",
      "Failures of the limiter's store by zone and reason." },

    { "tfa_resend_store_seconds", "histogram",
      "Redis round trip of one admission." },

    { "tfa_resend_limit_zone_pins", "gauge",
      "PinIds tracked now in a shared-memory limit zone." },

    { "tfa_resend_limit_zone_free_bytes", "gauge",
      "Free bytes in the slab of a shared-memory limit zone." }
};


static char  *ngx_http_tfa_resend_metrics_outcomes[] = {
    "forwarded",
    "upstream_failed",
    "limited",
    "invalid",
    "unavailable"
};


/* the normalizer's 11 values, in its order (checked at configuration) */

static char  *ngx_http_tfa_resend_metrics_call_statuses[] = {
    "BAD_REQUEST",
    "PROCESSING",
    "PROCESSED",
    "ANSWERED_MACHINE",
    "ERROR",
    "ERROR_NOT_ENOUGH_CREDITS",
    "ERROR_NETWORK_NOT_AVAILABLE",
    "ERROR_ROUTE_NOT_AVAILABLE",
    "ERROR_USER_BUSY",
    "ERROR_NO_ANSWER",
    "UNDEFINED"
};


static char  *ngx_http_tfa_resend_metrics_codes[] = {
    "2xx",
    "4xx",
    "5xx"
};


static char  *ngx_http_tfa_resend_metrics_decisions[] = {
    "passed",
    "rejected",
    "rejected_dry_run",
    "store_error_allowed",
    "store_error_rejected",
    "store_error_local"
};


static char  *ngx_http_tfa_resend_metrics_reasons[] = {
    "connect",
    "timeout",
    "auth",
    "reply",
    "zone_full"
};


static ngx_http_tfa_resend_metrics_bound_t
    ngx_http_tfa_resend_metrics_upstream_bounds[] = {
    { 5000, "0.005" },
    { 10000, "0.01" },
    { 25000, "0.025" },
    { 50000, "0.05" },
    { 100000, "0.1" },
    { 250000, "0.25" },
    { 500000, "0.5" },
    { 1000000, "1" },
    { 2500000, "2.5" },
    { 5000000, "5" },
    { 10000000, "10" }
};


static ngx_http_tfa_resend_metrics_bound_t
    ngx_http_tfa_resend_metrics_store_bounds[] = {
    { 500, "0.0005" },
    { 1000, "0.001" },
    { 2500, "0.0025" },
    { 5000, "0.005" },
    { 10000, "0.01" },
    { 25000, "0.025" },
    { 50000, "0.05" },
    { 100000, "0.1" },
    { 250000, "0.25" }
};


/* request time: counting */

/*
 * The counters of the configuration this process serves: its cycle's, so
 * an old worker finishing after a reload counts where its zones are known.
 */

static ngx_http_tfa_resend_metrics_conf_t *
ngx_http_tfa_resend_metrics_get(void)
{
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                              ngx_http_tfa_resend_module);
    if (mcf == NULL) {
        return NULL;
    }

    conf = mcf->metrics;

    if (conf == NULL || conf->sh == NULL) {
        return NULL;
    }

    return conf;
}


void
ngx_http_tfa_resend_metrics_request(
    ngx_http_tfa_resend_metrics_outcome_e outcome)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL
        || (ngx_uint_t) outcome >= NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&conf->sh->counters.requests[outcome], 1);
}


void
ngx_http_tfa_resend_metrics_call_status(const char *call_status)
{
    ngx_uint_t                           i;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL || call_status == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_TFA_RESEND_METRICS_STATUSES; i++) {
        if (ngx_strcmp(call_status,
                       ngx_http_tfa_resend_metrics_call_statuses[i])
            == 0)
        {
            (void) ngx_atomic_fetch_add(&conf->sh->counters.call_status[i],
                                        1);
            return;
        }
    }
}


void
ngx_http_tfa_resend_metrics_upstream_status(ngx_uint_t status)
{
    ngx_uint_t                           code;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL) {
        return;
    }

    switch (status / 100) {

    case 2:
        code = 0;
        break;

    case 4:
        code = 1;
        break;

    case 5:
        code = 2;
        break;

    default:
        return;
    }

    (void) ngx_atomic_fetch_add(&conf->sh->counters.upstream[code], 1);
}


void
ngx_http_tfa_resend_metrics_upstream_time(ngx_uint_t usec)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL) {
        return;
    }

    ngx_http_tfa_resend_metrics_observe(conf->sh->counters.upstream_seconds,
                                   &conf->sh->counters.upstream_usec,
                                   ngx_http_tfa_resend_metrics_upstream_bounds,
                                   NGX_HTTP_TFA_RESEND_METRICS_UP_BOUNDS,
                                   usec);
}


void
ngx_http_tfa_resend_metrics_decision(ngx_int_t slot,
    ngx_http_tfa_resend_metrics_decision_e decision)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL
        || (ngx_uint_t) decision >= NGX_HTTP_TFA_RESEND_METRICS_DECISIONS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&zc->decisions[decision], 1);
}


void
ngx_http_tfa_resend_metrics_refund(ngx_int_t slot)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&zc->refunds, 1);
}


void
ngx_http_tfa_resend_metrics_store_error(ngx_int_t slot,
    ngx_http_tfa_resend_metrics_reason_e reason)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL
        || (ngx_uint_t) reason >= NGX_HTTP_TFA_RESEND_METRICS_REASONS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&zc->store_errors[reason], 1);
}


void
ngx_http_tfa_resend_metrics_store_time(ngx_int_t slot, ngx_uint_t usec)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL) {
        return;
    }

    ngx_http_tfa_resend_metrics_observe(zc->store_seconds, &zc->store_usec,
                                      ngx_http_tfa_resend_metrics_store_bounds,
                                      NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS,
                                      usec);
}


static ngx_http_tfa_resend_metrics_zone_counters_t *
ngx_http_tfa_resend_metrics_zone(ngx_int_t slot)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;
    ngx_http_tfa_resend_metrics_slot_t  *s;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL || slot < 0 || (ngx_uint_t) slot >= conf->slots.nelts) {
        return NULL;
    }

    s = conf->slots.elts;

    return &conf->sh->zone[s[slot].index].counters;
}


/* one bucket's count (the first whose bound is not below) and the sum */

static void
ngx_http_tfa_resend_metrics_observe(ngx_atomic_t *buckets, ngx_atomic_t *sum,
    const ngx_http_tfa_resend_metrics_bound_t *bounds, ngx_uint_t n,
    ngx_uint_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < n && usec > bounds[i].usec; i++) { /* void */ }

    (void) ngx_atomic_fetch_add(&buckets[i], 1);
    (void) ngx_atomic_fetch_add(sum, usec);
}


/* request time: the page */

static ngx_int_t
ngx_http_tfa_resend_metrics_handler(ngx_http_request_t *r)
{
    size_t                               size;
    ngx_int_t                            rc;
    ngx_buf_t                           *b;
    ngx_chain_t                          out;
    ngx_table_elt_t                     *h;
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD");
        h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif

        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_tfa_resend_module);
    conf = mcf->metrics;

    if (conf == NULL || conf->sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = NGX_HTTP_TFA_RESEND_METRICS_FIXED_SIZE
           + conf->slots.nelts * NGX_HTTP_TFA_RESEND_METRICS_ZONE_LINES
             * (NGX_HTTP_TFA_RESEND_METRICS_LINE + conf->label_len
                + NGX_ATOMIC_T_LEN);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_tfa_resend_metrics_write(b->last, b->end, conf);

    if (b->last == b->end) {
        /* cut short: a page that lacks samples would mislead */

        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tfa_resend_metrics: the page does not fit in %uz "
                      "bytes", size);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


static u_char *
ngx_http_tfa_resend_metrics_write(u_char *p, u_char *last,
    ngx_http_tfa_resend_metrics_conf_t *conf)
{
    size_t                                        bytes;
    ngx_uint_t                                    i, pins;
    ngx_http_tfa_resend_metrics_slot_t           *s;
    ngx_http_tfa_resend_metrics_counters_t       *c;
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    c = &conf->sh->counters;
    s = conf->slots.elts;

    p = ngx_http_tfa_resend_metrics_counters(p, last,
                                      NGX_HTTP_TFA_RESEND_METRICS_REQUESTS,
                                      NULL, "outcome",
                                      ngx_http_tfa_resend_metrics_outcomes,
                                      c->requests,
                                      NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES);

    p = ngx_http_tfa_resend_metrics_counters(p, last,
                                   NGX_HTTP_TFA_RESEND_METRICS_CALL_STATUS,
                                   NULL, "call_status",
                                   ngx_http_tfa_resend_metrics_call_statuses,
                                   c->call_status,
                                   NGX_HTTP_TFA_RESEND_METRICS_STATUSES);

    p = ngx_http_tfa_resend_metrics_counters(p, last,
                                         NGX_HTTP_TFA_RESEND_METRICS_UPSTREAM,
                                         NULL, "code",
                                         ngx_http_tfa_resend_metrics_codes,
                                         c->upstream,
                                         NGX_HTTP_TFA_RESEND_METRICS_CODES);

    p = ngx_http_tfa_resend_metrics_histogram(p, last,
                                 NGX_HTTP_TFA_RESEND_METRICS_UPSTREAM_SECONDS,
                                 NULL,
                                 ngx_http_tfa_resend_metrics_upstream_bounds,
                                 NGX_HTTP_TFA_RESEND_METRICS_UP_BOUNDS,
                                 c->upstream_seconds, &c->upstream_usec);

    /* per zone: each family's lines together, zones in their order */

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                  NGX_HTTP_TFA_RESEND_METRICS_LIMIT_DECISIONS);

    for (i = 0; i < conf->slots.nelts; i++) {
        zc = &conf->sh->zone[s[i].index].counters;

        p = ngx_http_tfa_resend_metrics_counters(p, last,
                                  NGX_HTTP_TFA_RESEND_METRICS_LIMIT_DECISIONS,
                                  &s[i].label, "decision",
                                  ngx_http_tfa_resend_metrics_decisions,
                                  zc->decisions,
                                  NGX_HTTP_TFA_RESEND_METRICS_DECISIONS);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                    NGX_HTTP_TFA_RESEND_METRICS_LIMIT_REFUNDS);

    for (i = 0; i < conf->slots.nelts; i++) {
        zc = &conf->sh->zone[s[i].index].counters;

        p = ngx_slprintf(p, last, "%s{%V} %uA\n",
                         ngx_http_tfa_resend_metrics_families
                             [NGX_HTTP_TFA_RESEND_METRICS_LIMIT_REFUNDS].name,
                         &s[i].label, zc->refunds);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                     NGX_HTTP_TFA_RESEND_METRICS_STORE_ERRORS);

    for (i = 0; i < conf->slots.nelts; i++) {
        zc = &conf->sh->zone[s[i].index].counters;

        p = ngx_http_tfa_resend_metrics_counters(p, last,
                                     NGX_HTTP_TFA_RESEND_METRICS_STORE_ERRORS,
                                     &s[i].label, "reason",
                                     ngx_http_tfa_resend_metrics_reasons,
                                     zc->store_errors,
                                     NGX_HTTP_TFA_RESEND_METRICS_REASONS);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                    NGX_HTTP_TFA_RESEND_METRICS_STORE_SECONDS);

    for (i = 0; i < conf->slots.nelts; i++) {

        /* a round trip is Redis's: no samples for a shared-memory zone */

        if (s[i].store->type == &ngx_http_tfa_resend_shm_store) {
            continue;
        }

        zc = &conf->sh->zone[s[i].index].counters;

        p = ngx_http_tfa_resend_metrics_histogram(p, last,
                                    NGX_HTTP_TFA_RESEND_METRICS_STORE_SECONDS,
                                    &s[i].label,
                                    ngx_http_tfa_resend_metrics_store_bounds,
                                    NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS,
                                    zc->store_seconds, &zc->store_usec);
    }

    /* the gauges: read now from each shared-memory zone */

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                        NGX_HTTP_TFA_RESEND_METRICS_ZONE_PINS);

    for (i = 0; i < conf->slots.nelts; i++) {

        if (s[i].store->type != &ngx_http_tfa_resend_shm_store) {
            continue;
        }

        ngx_http_tfa_resend_shm_usage(s[i].store, &pins, &bytes);

        p = ngx_slprintf(p, last, "%s{%V} %ui\n",
                         ngx_http_tfa_resend_metrics_families
                             [NGX_HTTP_TFA_RESEND_METRICS_ZONE_PINS].name,
                         &s[i].label, pins);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                  NGX_HTTP_TFA_RESEND_METRICS_ZONE_FREE_BYTES);

    for (i = 0; i < conf->slots.nelts; i++) {

        if (s[i].store->type != &ngx_http_tfa_resend_shm_store) {
            continue;
        }

        ngx_http_tfa_resend_shm_usage(s[i].store, &pins, &bytes);

        p = ngx_slprintf(p, last, "%s{%V} %uz\n",
                         ngx_http_tfa_resend_metrics_families
                             [NGX_HTTP_TFA_RESEND_METRICS_ZONE_FREE_BYTES].name,
                         &s[i].label, bytes);
    }

    return p;
}


static u_char *
ngx_http_tfa_resend_metrics_family(u_char *p, u_char *last, ngx_uint_t family)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                        ngx_http_tfa_resend_metrics_families[family].name,
                        ngx_http_tfa_resend_metrics_families[family].help,
                        ngx_http_tfa_resend_metrics_families[family].name,
                        ngx_http_tfa_resend_metrics_families[family].type);
}


/*
 * A counter's samples, one per value of its fixed label; with zone set
 * (a zone="..." label), for that zone only and without # HELP / # TYPE,
 * which the caller writes once before the zones.
 */

static u_char *
ngx_http_tfa_resend_metrics_counters(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone, const char *label, char **values,
    ngx_atomic_t *counts, ngx_uint_t n)
{
    char        *name;
    ngx_uint_t   i;

    name = ngx_http_tfa_resend_metrics_families[family].name;

    if (zone == NULL) {
        p = ngx_http_tfa_resend_metrics_family(p, last, family);
    }

    for (i = 0; i < n; i++) {
        if (zone) {
            p = ngx_slprintf(p, last, "%s{%V,%s=\"%s\"} %uA\n",
                             name, zone, label, values[i], counts[i]);

        } else {
            p = ngx_slprintf(p, last, "%s{%s=\"%s\"} %uA\n",
                             name, label, values[i], counts[i]);
        }
    }

    return p;
}


/*
 * A histogram's samples: the buckets added up from one reading of each, so
 * they never decrease and _count is the +Inf bucket; the sum in seconds.
 */

static u_char *
ngx_http_tfa_resend_metrics_histogram(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone,
    const ngx_http_tfa_resend_metrics_bound_t *bounds, ngx_uint_t n,
    ngx_atomic_t *buckets, ngx_atomic_t *sum)
{
    char              *name;
    ngx_uint_t         i;
    ngx_atomic_uint_t  count, usec;

    static ngx_str_t   none = ngx_null_string;

    name = ngx_http_tfa_resend_metrics_families[family].name;

    if (zone == NULL) {
        p = ngx_http_tfa_resend_metrics_family(p, last, family);
        zone = &none;
    }

    count = 0;

    for (i = 0; i <= n; i++) {
        count += buckets[i];

        p = ngx_slprintf(p, last, "%s_bucket{%V%sle=\"%s\"} %uA\n",
                         name, zone, zone->len ? "," : "",
                         i < n ? bounds[i].le : "+Inf", count);
    }

    usec = *sum;

    if (zone->len) {
        p = ngx_slprintf(p, last, "%s_sum{%V} %uA.%06uA\n"
                                  "%s_count{%V} %uA\n",
                         name, zone, usec / 1000000, usec % 1000000,
                         name, zone, count);

    } else {
        p = ngx_slprintf(p, last, "%s_sum %uA.%06uA\n%s_count %uA\n",
                         name, usec / 1000000, usec % 1000000, name, count);
    }

    return p;
}


/* configuration time */

static ngx_http_tfa_resend_metrics_conf_t *
ngx_http_tfa_resend_metrics_conf(ngx_conf_t *cf)
{
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tfa_resend_module);

    if (mcf->metrics) {
        return mcf->metrics;
    }

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_metrics_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&conf->slots, cf->pool, 4,
                       sizeof(ngx_http_tfa_resend_metrics_slot_t))
        != NGX_OK)
    {
        return NULL;
    }

    mcf->metrics = conf;

    return conf;
}


ngx_int_t
ngx_http_tfa_resend_metrics_add_zone(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store)
{
    u_char                              *p;
    size_t                               len;
    ngx_uint_t                           i;
    ngx_http_tfa_resend_metrics_conf_t  *conf;
    ngx_http_tfa_resend_metrics_slot_t  *s;

    conf = ngx_http_tfa_resend_metrics_conf(cf);
    if (conf == NULL) {
        return NGX_ERROR;
    }

    s = ngx_array_push(&conf->slots);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->name = store->name;
    s->store = store;
    s->index = 0;

    /* the label, escaped as the text format asks: \\, \" and \n */

    len = sizeof("zone=\"\"") - 1;

    for (i = 0; i < store->name.len; i++) {
        switch (store->name.data[i]) {
        case '\\': case '"': case '\n':
            len++;
        }

        len++;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s->label.data = p;
    s->label.len = len;

    p = ngx_cpymem(p, "zone=\"", sizeof("zone=\"") - 1);

    for (i = 0; i < store->name.len; i++) {
        switch (store->name.data[i]) {

        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;

        case '"':
            *p++ = '\\';
            *p++ = '"';
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = store->name.data[i];
        }
    }

    *p = '"';

    if (len > conf->label_len) {
        conf->label_len = len;
    }

    return conf->slots.nelts - 1;
}


char *
ngx_http_tfa_resend_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t            *clcf;
    ngx_http_tfa_resend_metrics_conf_t  *mconf;

    mconf = ngx_http_tfa_resend_metrics_conf(cf);
    if (mconf == NULL) {
        return NGX_CONF_ERROR;
    }

    mconf->page = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tfa_resend_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * The zone's size: the counters and the zones' rounded up to whole pages
 * (what is left over is room for more zones), one page for the slab pool
 * and its page table, and one to spare.  room: how many zones fit.
 */

static size_t
ngx_http_tfa_resend_metrics_size(ngx_uint_t zones, ngx_uint_t *room)
{
    size_t  size, pages;

    size = offsetof(ngx_http_tfa_resend_metrics_shctx_t, zone)
           + zones * sizeof(ngx_http_tfa_resend_metrics_shzone_t);

    size = ngx_align(size, ngx_pagesize);
    pages = size / ngx_pagesize;

    *room = (size - offsetof(ngx_http_tfa_resend_metrics_shctx_t, zone))
            / sizeof(ngx_http_tfa_resend_metrics_shzone_t);

    return size
           + ngx_align(sizeof(ngx_slab_pool_t)
                       + (ngx_pagesize_shift - 3)
                         * (sizeof(ngx_slab_page_t) + sizeof(ngx_slab_stat_t))
                       + (pages + 2) * sizeof(ngx_slab_page_t),
                       ngx_pagesize)
           + ngx_pagesize;
}


ngx_int_t
ngx_http_tfa_resend_metrics_init(ngx_conf_t *cf)
{
    size_t                               size;
    ngx_uint_t                           i, room;
    ngx_shm_zone_t                      *shm_zone;
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tfa_resend_module);

    /* counters for a module that is not used would only take memory */

    if (!mcf->used && (mcf->metrics == NULL || !mcf->metrics->page)) {
        return NGX_OK;
    }

    conf = ngx_http_tfa_resend_metrics_conf(cf);
    if (conf == NULL) {
        return NGX_ERROR;
    }

    /* the page's call_status values are the normalizer's */

    for (i = 0; i < NGX_HTTP_TFA_RESEND_METRICS_STATUSES; i++) {
        if (ngx_http_tfa_resend_call_status_lookup((const unsigned char *)
                               ngx_http_tfa_resend_metrics_call_statuses[i],
                               ngx_strlen(
                               ngx_http_tfa_resend_metrics_call_statuses[i]))
            == NULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tfa_resend_metrics: \"%s\" is not a "
                               "callStatus of the normalizer",
                               ngx_http_tfa_resend_metrics_call_statuses[i]);
            return NGX_ERROR;
        }
    }

    size = ngx_http_tfa_resend_metrics_size(conf->slots.nelts, &room);

    shm_zone = ngx_shared_memory_add(cf,
                                     &ngx_http_tfa_resend_metrics_zone_name,
                                     size, &ngx_http_tfa_resend_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_tfa_resend_metrics_init_zone;
    shm_zone->data = conf;

    conf->shm_zone = shm_zone;

    return NGX_OK;
}


/* init */

static ngx_int_t
ngx_http_tfa_resend_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tfa_resend_metrics_conf_t  *oconf = data;

    ngx_uint_t                            i, room;
    ngx_slab_pool_t                      *shpool;
    ngx_http_tfa_resend_metrics_conf_t   *conf;
    ngx_http_tfa_resend_metrics_slot_t   *s;
    ngx_http_tfa_resend_metrics_shctx_t  *sh;

    conf = shm_zone->data;

    if (oconf) {
        /* the same memory: the old workers still count into it */

        conf->sh = oconf->sh;

        if (ngx_http_tfa_resend_metrics_assign(conf, oconf, shm_zone->shm.log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "tfa_resend_metrics: the counts go on in the same "
                      "memory (room for %ui limit zones)", conf->sh->zones);

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        /* a process that attaches again: as the master set it up */

        conf->sh = shpool->data;
        s = conf->slots.elts;

        for (i = 0; i < conf->sh->zones; i++) {
            if (conf->sh->zone[i].slot >= 0
                && (ngx_uint_t) conf->sh->zone[i].slot < conf->slots.nelts)
            {
                s[conf->sh->zone[i].slot].index = i;
            }
        }

        return NGX_OK;
    }

    (void) ngx_http_tfa_resend_metrics_size(conf->slots.nelts, &room);

    sh = ngx_slab_calloc(shpool,
                         offsetof(ngx_http_tfa_resend_metrics_shctx_t, zone)
                         + room * sizeof(ngx_http_tfa_resend_metrics_shzone_t));
    if (sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "tfa_resend_metrics: no room for the counters of %ui "
                      "zones in %uz bytes", room, shm_zone->shm.size);
        return NGX_ERROR;
    }

    sh->zones = room;

    for (i = 0; i < room; i++) {
        sh->zone[i].slot = -1;
    }

    shpool->data = sh;
    conf->sh = sh;

    if (ngx_http_tfa_resend_metrics_assign(conf, NULL, shm_zone->shm.log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_tfa_resend_metrics_copy(conf, shm_zone);

    return NGX_OK;
}


/*
 * Gives each zone of the configuration its counters in sh->zone[]: those
 * of the zone of the same name in oconf, the configuration before (the
 * memory is the same), else free ones, zeroed.  Free are first those no
 * zone of oconf had, then those of the zones oconf had and conf has not:
 * a reload that fails later leaves the running configuration its counts
 * unless the zones are renamed past the room.
 */

static ngx_int_t
ngx_http_tfa_resend_metrics_assign(ngx_http_tfa_resend_metrics_conf_t *conf,
    ngx_http_tfa_resend_metrics_conf_t *oconf, ngx_log_t *log)
{
    u_char                               *taken;
    ngx_int_t                             found;
    ngx_uint_t                            i, j, k, pass;
    ngx_http_tfa_resend_metrics_slot_t   *s, *os;
    ngx_http_tfa_resend_metrics_shctx_t  *sh;

    sh = conf->sh;
    s = conf->slots.elts;

    if (conf->slots.nelts > sh->zones) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "tfa_resend_metrics: %ui zones, room for %ui",
                      conf->slots.nelts, sh->zones);
        return NGX_ERROR;
    }

    /* 0: free; 1: had by a zone of oconf; 2: given */

    taken = ngx_calloc(sh->zones, log);
    if (taken == NULL) {
        return NGX_ERROR;
    }

    if (oconf) {
        os = oconf->slots.elts;

        for (j = 0; j < oconf->slots.nelts; j++) {
            taken[os[j].index] = 1;
        }

        for (i = 0; i < conf->slots.nelts; i++) {
            found = -1;

            for (j = 0; j < oconf->slots.nelts; j++) {
                if (os[j].name.len == s[i].name.len
                    && ngx_strncmp(os[j].name.data, s[i].name.data,
                                   s[i].name.len)
                       == 0)
                {
                    found = j;
                    break;
                }
            }

            if (found >= 0) {
                s[i].index = os[found].index;
                taken[s[i].index] = 2;

            } else {
                s[i].index = sh->zones;    /* to give */
            }
        }

    } else {
        for (i = 0; i < conf->slots.nelts; i++) {
            s[i].index = sh->zones;
        }
    }

    for (i = 0; i < conf->slots.nelts; i++) {

        if (s[i].index < sh->zones) {
            continue;
        }

        for (pass = 0; pass < 2; pass++) {
            for (k = 0; k < sh->zones; k++) {
                if (taken[k] == pass) {
                    goto found;
                }
            }
        }

        /* not reached: room >= zones */

        ngx_free(taken);
        return NGX_ERROR;

    found:

        taken[k] = 2;
        s[i].index = k;

        ngx_memzero(&sh->zone[k].counters,
                    sizeof(ngx_http_tfa_resend_metrics_zone_counters_t));
    }

    ngx_free(taken);

    /* for a process that attaches to the zone again (Windows) */

    for (k = 0; k < sh->zones; k++) {
        sh->zone[k].slot = -1;
    }

    for (i = 0; i < conf->slots.nelts; i++) {
        sh->zone[s[i].index].slot = i;
    }

    return NGX_OK;
}


/*
 * New memory on a reload (the zone's size changed): the counts of the
 * running configuration's zone go on from where they are.  Its memory is
 * there until the new configuration is set up (ngx_cycle is the running
 * one until then); what its workers count after this copy is lost.
 */

static void
ngx_http_tfa_resend_metrics_copy(ngx_http_tfa_resend_metrics_conf_t *conf,
    ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t                            i, j;
    ngx_list_part_t                      *part;
    ngx_shm_zone_t                       *zone;
    ngx_http_tfa_resend_metrics_conf_t   *oconf;
    ngx_http_tfa_resend_metrics_slot_t   *s, *os;
    ngx_http_tfa_resend_metrics_shctx_t  *osh;

    oconf = NULL;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == shm_zone->tag
            && zone[i].init == ngx_http_tfa_resend_metrics_init_zone
            && zone[i].shm.name.len == shm_zone->shm.name.len
            && ngx_strncmp(zone[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
               == 0)
        {
            oconf = zone[i].data;
            break;
        }
    }

    if (oconf == NULL || oconf->sh == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "tfa_resend_metrics: the counts go on in new memory of "
                  "%uz bytes (room for %ui limit zones), copied from the old",
                  shm_zone->shm.size, conf->sh->zones);

    osh = oconf->sh;

    ngx_http_tfa_resend_metrics_copy_atomics(
        (ngx_atomic_t *) &conf->sh->counters, (ngx_atomic_t *) &osh->counters,
        sizeof(ngx_http_tfa_resend_metrics_counters_t));

    s = conf->slots.elts;
    os = oconf->slots.elts;

    for (i = 0; i < conf->slots.nelts; i++) {
        for (j = 0; j < oconf->slots.nelts; j++) {

            if (os[j].name.len == s[i].name.len
                && ngx_strncmp(os[j].name.data, s[i].name.data,
                               s[i].name.len)
                   == 0)
            {
                ngx_http_tfa_resend_metrics_copy_atomics(
                    (ngx_atomic_t *) &conf->sh->zone[s[i].index].counters,
                    (ngx_atomic_t *) &osh->zone[os[j].index].counters,
                    sizeof(ngx_http_tfa_resend_metrics_zone_counters_t));
                break;
            }
        }
    }
}


/* one word at a time: the old workers may be adding to src meanwhile */

static void
ngx_http_tfa_resend_metrics_copy_atomics(ngx_atomic_t *dst, ngx_atomic_t *src,
    size_t size)
{
    ngx_uint_t  i;

    for (i = 0; i < size / sizeof(ngx_atomic_t); i++) {
        dst[i] = src[i];
    }
}
