
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The tfa_resend_metrics page.  Every family is printed with # HELP and
 * # TYPE, and every fixed label value from zero, so that a dashboard sees
 * "limited 0" rather than a missing series.  Histograms are kept per
 * bucket: the page adds the buckets up and prints the sum in seconds,
 * exactly.  Zone names are label values escaped as the format asks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_metrics_page.h"
#include "ngx_http_tfa_resend_shm.h"
#include "ngx_http_tfa_resend_status.h"


/* the longest sample line but for the zone's label and the value */
#define NGX_HTTP_TFA_RESEND_METRICS_LINE              96

/* the families without a zone label: text and samples, with room to spare */
#define NGX_HTTP_TFA_RESEND_METRICS_FIXED_SIZE        8192

/* sample lines per zone: 6 + 1 + 5 + (9 + 1 + 2) + 1 + 1 */
#define NGX_HTTP_TFA_RESEND_METRICS_ZONE_LINES        26


static ngx_int_t ngx_http_tfa_resend_metrics_handler(ngx_http_request_t *r);
static u_char *ngx_http_tfa_resend_metrics_write(u_char *p, u_char *last,
    ngx_http_tfa_resend_metrics_counters_t *c,
    ngx_http_tfa_resend_metrics_zone_t *z, ngx_uint_t n);
static u_char *ngx_http_tfa_resend_metrics_family(u_char *p, u_char *last,
    ngx_uint_t family);
static u_char *ngx_http_tfa_resend_metrics_label(u_char *p, u_char *last,
    ngx_str_t *name);
static u_char *ngx_http_tfa_resend_metrics_counters(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone, const char *label,
    const char **values, ngx_atomic_t *counts, ngx_uint_t n);
static u_char *ngx_http_tfa_resend_metrics_histogram(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone,
    const ngx_http_tfa_resend_metrics_bound_t *bounds, ngx_uint_t n,
    ngx_atomic_t *buckets, ngx_atomic_t *sum);


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


static const char  *ngx_http_tfa_resend_metrics_outcomes[] = {
    "forwarded",
    "upstream_failed",
    "limited",
    "invalid",
    "unavailable"
};


static const char  *ngx_http_tfa_resend_metrics_codes[] = {
    "2xx",
    "4xx",
    "5xx"
};


static const char  *ngx_http_tfa_resend_metrics_decisions[] = {
    "passed",
    "rejected",
    "rejected_dry_run",
    "store_error_allowed",
    "store_error_rejected",
    "store_error_local"
};


static const char  *ngx_http_tfa_resend_metrics_reasons[] = {
    "connect",
    "timeout",
    "auth",
    "reply",
    "zone_full"
};


/* request time: the page */

static ngx_int_t
ngx_http_tfa_resend_metrics_handler(ngx_http_request_t *r)
{
    size_t                                   size;
    ngx_int_t                                rc;
    ngx_buf_t                               *b;
    ngx_uint_t                               i, n;
    ngx_chain_t                              out;
    ngx_table_elt_t                         *h;
    ngx_http_tfa_resend_metrics_zone_t      *z;
    ngx_http_tfa_resend_metrics_counters_t  *c;

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

    c = ngx_http_tfa_resend_metrics_read(r, &z, &n);

    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a zone's label is its name escaped: at most twice as long */

    size = NGX_HTTP_TFA_RESEND_METRICS_FIXED_SIZE;

    for (i = 0; i < n; i++) {
        size += NGX_HTTP_TFA_RESEND_METRICS_ZONE_LINES
                * (NGX_HTTP_TFA_RESEND_METRICS_LINE + 2 * z[i].name.len
                   + NGX_ATOMIC_T_LEN);
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_tfa_resend_metrics_write(b->last, b->end, c, z, n);

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
    ngx_http_tfa_resend_metrics_counters_t *c,
    ngx_http_tfa_resend_metrics_zone_t *s, ngx_uint_t n)
{
    size_t                                        bytes;
    ngx_uint_t                                    i, pins;
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    p = ngx_http_tfa_resend_metrics_counters(p, last,
                                      NGX_HTTP_TFA_RESEND_METRICS_REQUESTS,
                                      NULL, "outcome",
                                      ngx_http_tfa_resend_metrics_outcomes,
                                      c->requests,
                                      NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES);

    p = ngx_http_tfa_resend_metrics_counters(p, last,
                                   NGX_HTTP_TFA_RESEND_METRICS_CALL_STATUS,
                                   NULL, "call_status",
                                   ngx_http_tfa_resend_call_statuses,
                                   c->call_status,
                                   NGX_HTTP_TFA_RESEND_CALL_STATUSES);

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

    for (i = 0; i < n; i++) {
        zc = s[i].counters;

        p = ngx_http_tfa_resend_metrics_counters(p, last,
                                  NGX_HTTP_TFA_RESEND_METRICS_LIMIT_DECISIONS,
                                  &s[i].name, "decision",
                                  ngx_http_tfa_resend_metrics_decisions,
                                  zc->decisions,
                                  NGX_HTTP_TFA_RESEND_METRICS_DECISIONS);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                    NGX_HTTP_TFA_RESEND_METRICS_LIMIT_REFUNDS);

    for (i = 0; i < n; i++) {
        zc = s[i].counters;

        p = ngx_slprintf(p, last, "%s{", ngx_http_tfa_resend_metrics_families
                             [NGX_HTTP_TFA_RESEND_METRICS_LIMIT_REFUNDS].name);
        p = ngx_http_tfa_resend_metrics_label(p, last, &s[i].name);
        p = ngx_slprintf(p, last, "} %uA\n", zc->refunds);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                     NGX_HTTP_TFA_RESEND_METRICS_STORE_ERRORS);

    for (i = 0; i < n; i++) {
        zc = s[i].counters;

        p = ngx_http_tfa_resend_metrics_counters(p, last,
                                     NGX_HTTP_TFA_RESEND_METRICS_STORE_ERRORS,
                                     &s[i].name, "reason",
                                     ngx_http_tfa_resend_metrics_reasons,
                                     zc->store_errors,
                                     NGX_HTTP_TFA_RESEND_METRICS_REASONS);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                    NGX_HTTP_TFA_RESEND_METRICS_STORE_SECONDS);

    for (i = 0; i < n; i++) {

        /* a round trip is Redis's: no samples for a shared-memory zone */

        if (s[i].store->type == &ngx_http_tfa_resend_shm_store) {
            continue;
        }

        zc = s[i].counters;

        p = ngx_http_tfa_resend_metrics_histogram(p, last,
                                    NGX_HTTP_TFA_RESEND_METRICS_STORE_SECONDS,
                                    &s[i].name,
                                    ngx_http_tfa_resend_metrics_store_bounds,
                                    NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS,
                                    zc->store_seconds, &zc->store_usec);
    }

    /* the gauges: read now from each shared-memory zone */

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                        NGX_HTTP_TFA_RESEND_METRICS_ZONE_PINS);

    for (i = 0; i < n; i++) {

        if (s[i].store->type != &ngx_http_tfa_resend_shm_store) {
            continue;
        }

        ngx_http_tfa_resend_shm_usage(s[i].store, &pins, &bytes);

        p = ngx_slprintf(p, last, "%s{", ngx_http_tfa_resend_metrics_families
                             [NGX_HTTP_TFA_RESEND_METRICS_ZONE_PINS].name);
        p = ngx_http_tfa_resend_metrics_label(p, last, &s[i].name);
        p = ngx_slprintf(p, last, "} %ui\n", pins);
    }

    p = ngx_http_tfa_resend_metrics_family(p, last,
                                  NGX_HTTP_TFA_RESEND_METRICS_ZONE_FREE_BYTES);

    for (i = 0; i < n; i++) {

        if (s[i].store->type != &ngx_http_tfa_resend_shm_store) {
            continue;
        }

        ngx_http_tfa_resend_shm_usage(s[i].store, &pins, &bytes);

        p = ngx_slprintf(p, last, "%s{", ngx_http_tfa_resend_metrics_families
                           [NGX_HTTP_TFA_RESEND_METRICS_ZONE_FREE_BYTES].name);
        p = ngx_http_tfa_resend_metrics_label(p, last, &s[i].name);
        p = ngx_slprintf(p, last, "} %uz\n", bytes);
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


/* zone="NAME", the name escaped as the text format asks: \\, \" and \n */

static u_char *
ngx_http_tfa_resend_metrics_label(u_char *p, u_char *last, ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    p = ngx_slprintf(p, last, "zone=\"");

    for (i = 0; i < name->len && p + 2 < last; i++) {
        c = name->data[i];

        switch (c) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = c;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = c;
        }
    }

    return ngx_slprintf(p, last, "\"");
}


/*
 * A counter's samples, one per value of its fixed label; with zone set
 * (a zone="..." label), for that zone only and without # HELP / # TYPE,
 * which the caller writes once before the zones.
 */

static u_char *
ngx_http_tfa_resend_metrics_counters(u_char *p, u_char *last,
    ngx_uint_t family, ngx_str_t *zone, const char *label,
    const char **values, ngx_atomic_t *counts, ngx_uint_t n)
{
    char        *name;
    ngx_uint_t   i;

    name = ngx_http_tfa_resend_metrics_families[family].name;

    if (zone == NULL) {
        p = ngx_http_tfa_resend_metrics_family(p, last, family);
    }

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "%s{", name);

        if (zone) {
            p = ngx_http_tfa_resend_metrics_label(p, last, zone);
            p = ngx_slprintf(p, last, ",");
        }

        p = ngx_slprintf(p, last, "%s=\"%s\"} %uA\n",
                         label, values[i], counts[i]);
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

    name = ngx_http_tfa_resend_metrics_families[family].name;

    if (zone == NULL) {
        p = ngx_http_tfa_resend_metrics_family(p, last, family);
    }

    count = 0;

    for (i = 0; i <= n; i++) {
        count += buckets[i];

        p = ngx_slprintf(p, last, "%s_bucket{", name);

        if (zone) {
            p = ngx_http_tfa_resend_metrics_label(p, last, zone);
            p = ngx_slprintf(p, last, ",");
        }

        p = ngx_slprintf(p, last, "le=\"%s\"} %uA\n",
                         i < n ? bounds[i].le : "+Inf", count);
    }

    usec = *sum;

    if (zone) {
        p = ngx_slprintf(p, last, "%s_sum{", name);
        p = ngx_http_tfa_resend_metrics_label(p, last, zone);
        p = ngx_slprintf(p, last, "} %uA.%06uA\n%s_count{",
                         usec / 1000000, usec % 1000000, name);
        p = ngx_http_tfa_resend_metrics_label(p, last, zone);
        p = ngx_slprintf(p, last, "} %uA\n", count);

    } else {
        p = ngx_slprintf(p, last, "%s_sum %uA.%06uA\n%s_count %uA\n",
                         name, usec / 1000000, usec % 1000000, name, count);
    }

    return p;
}


/* configuration time */

char *
ngx_http_tfa_resend_metrics_page(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_http_tfa_resend_metrics_want(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tfa_resend_metrics_handler;

    return NGX_CONF_OK;
}
