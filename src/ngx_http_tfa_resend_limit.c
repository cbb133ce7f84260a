
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The per-pinId resend limiter: "at most N resends of one pinId in any
 * WINDOW", across all worker processes.
 *
 * The interception handler calls ngx_http_tfa_resend_limit_request() once
 * the resend is known to be valid and before it is forwarded.  The window
 * arithmetic lives in a store (ngx_http_tfa_resend_store.h): here is only
 * what HTTP makes of its answer (status, headers, log, variables, refund).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_limit.h"
#include "ngx_http_tfa_resend_conf.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_response.h"
#include "ngx_http_tfa_resend_stores.h"


typedef struct ngx_http_tfa_resend_limit_admission_s
    ngx_http_tfa_resend_limit_admission_t;


/* one admission: the store operation and what its refund needs */

struct ngx_http_tfa_resend_limit_admission_s {
    ngx_http_tfa_resend_store_op_t      op;
    ngx_http_request_t                 *request;
    ngx_http_tfa_resend_store_t        *store;
    ngx_http_event_handler_pt           resume;   /* after NGX_AGAIN */
};


static ngx_int_t ngx_http_tfa_resend_limit_decide(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_http_tfa_resend_loc_conf_t *lcf,
    ngx_http_tfa_resend_limit_admission_t *adm);
static void ngx_http_tfa_resend_limit_count(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op,
    ngx_http_tfa_resend_metrics_decision_e decision);
static void ngx_http_tfa_resend_limit_done(ngx_http_tfa_resend_store_op_t *op);
static void ngx_http_tfa_resend_limit_refund(void *data);
static u_char *ngx_http_tfa_resend_limit_window(u_char *p, ngx_msec_t ms);
static ngx_int_t ngx_http_tfa_resend_limit_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_tfa_resend_limit_set_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t value);


ngx_conf_enum_t  ngx_http_tfa_resend_limit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


ngx_conf_num_bounds_t  ngx_http_tfa_resend_limit_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};


static ngx_str_t  ngx_http_tfa_resend_limit_headers[] = {
    ngx_string("X-RateLimit-Limit"),
    ngx_string("X-RateLimit-Remaining"),
    ngx_string("Retry-After")
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


ngx_int_t
ngx_http_tfa_resend_limit_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx)
{
    ngx_int_t                               rc;
    ngx_http_tfa_resend_store_t            *store;
    ngx_http_tfa_resend_loc_conf_t         *lcf;
    ngx_http_tfa_resend_limit_admission_t  *adm;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    store = lcf->limit_store;

    if (store == NULL) {
        return NGX_DECLINED;
    }

    switch (ctx->limit_state) {

    case NGX_HTTP_TFA_RESEND_LIMIT_NONE:
        break;

    case NGX_HTTP_TFA_RESEND_LIMIT_PENDING:
        adm = ctx->limit_admission;

        if (adm->op.rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        /* called again by ngx_http_tfa_resend_limit_done() */

        return ngx_http_tfa_resend_limit_decide(r, ctx, lcf, adm);

    case NGX_HTTP_TFA_RESEND_LIMIT_REJECTED:
        /* answered already: the handler is not expected to come back */
        return NGX_DONE;

    default:
        /* the phase handler was re-entered after the decision */
        return NGX_DECLINED;
    }

    adm = ngx_pcalloc(r->pool, sizeof(ngx_http_tfa_resend_limit_admission_t));
    if (adm == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    adm->request = r;
    adm->store = store;

    adm->op.key = ctx->pin_id;
    adm->op.now = ngx_current_msec;
    adm->op.log = r->connection->log;
    adm->op.pool = r->pool;
    adm->op.done = ngx_http_tfa_resend_limit_done;
    adm->op.data = adm;

    /* the caller, to be called again if the store answers later */

    adm->resume = (r->request_body && r->request_body->post_handler)
                  ? r->request_body->post_handler : ngx_http_core_run_phases;

    ctx->limit_limit = store->limit;
    ctx->limit_store = store;

    rc = store->type->admit(store, &adm->op);

    if (rc == NGX_AGAIN) {
        adm->op.rc = NGX_AGAIN;

        ctx->limit_admission = adm;
        ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_PENDING;

        /* a client that goes away meanwhile ends the request (499) */

        r->read_event_handler = ngx_http_test_reading;

        return NGX_AGAIN;
    }

    adm->op.rc = rc;

    return ngx_http_tfa_resend_limit_decide(r, ctx, lcf, adm);
}


static ngx_int_t
ngx_http_tfa_resend_limit_decide(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_http_tfa_resend_loc_conf_t *lcf,
    ngx_http_tfa_resend_limit_admission_t *adm)
{
    u_char                          *text, *p;
    ngx_uint_t                       level;
    ngx_msec_t                       retry;
    ngx_pool_cleanup_t              *cln;
    ngx_http_tfa_resend_store_t     *store;
    ngx_http_tfa_resend_store_op_t  *op;

    store = adm->store;
    op = &adm->op;

    switch (op->rc) {

    case NGX_OK:
        ngx_http_tfa_resend_limit_count(store, op,
                                        NGX_HTTP_TFA_RESEND_METRICS_PASSED);

        ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_PASSED;
        ctx->limit_remaining = op->remaining;

        if (lcf->limit_refund) {
            cln = ngx_pool_cleanup_add(r->pool, 0);
            if (cln == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            /*
             * A pool cleanup rather than a log phase handler: it runs once
             * the request is over, whatever internal redirects (error_page)
             * happened on the way, with the upstream's states still there.
             */

            cln->handler = ngx_http_tfa_resend_limit_refund;
            cln->data = adm;
        }

        return NGX_DECLINED;

    case NGX_BUSY:
        ngx_http_tfa_resend_limit_count(store, op, lcf->limit_dry_run
                              ? NGX_HTTP_TFA_RESEND_METRICS_REJECTED_DRY_RUN
                              : NGX_HTTP_TFA_RESEND_METRICS_REJECTED);

        ctx->limit_remaining = 0;
        ctx->limit_retry_after = op->retry_after;

        level = lcf->limit_log_level;

        ngx_log_error(level, r->connection->log, 0,
                      "tfa_resend: limiting resends%s of pinId \"%V\" by "
                      "zone \"%V\": %ui in the last %M ms, retry after "
                      "%M ms",
                      lcf->limit_dry_run ? ", dry run," : "",
                      &ctx->pin_id, &store->name, store->limit,
                      store->window, op->retry_after);

        if (lcf->limit_dry_run) {
            ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_REJECTED_DRY_RUN;
            return NGX_DECLINED;
        }

        ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_REJECTED;

        retry = (op->retry_after + 999) / 1000;

        text = ngx_pnalloc(r->pool, 128);
        if (text == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(text, "Too many resends of this PIN: at most %ui "
                        "in ", store->limit);
        p = ngx_http_tfa_resend_limit_window(p, store->window);
        p = ngx_sprintf(p, ". Try again in %M second%s.%Z",
                        retry, retry == 1 ? "" : "s");

        return ngx_http_tfa_resend_send_error(r, lcf->limit_status,
                                              "TOO_MANY_REQUESTS",
                                              (const char *) text);

    case NGX_DECLINED:
        ngx_http_tfa_resend_metrics_store_error(store->metrics,
                                       NGX_HTTP_TFA_RESEND_METRICS_ZONE_FULL);
        ngx_http_tfa_resend_limit_count(store, op, lcf->limit_dry_run
                              ? NGX_HTTP_TFA_RESEND_METRICS_REJECTED_DRY_RUN
                              : NGX_HTTP_TFA_RESEND_METRICS_REJECTED);

        ctx->limit_remaining = 0;

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tfa_resend: tfa_resend_limit_zone \"%V\" is full: "
                      "no room for pinId \"%V\"%s; every tracked pinId is "
                      "within its window, make the zone larger",
                      &store->name, &ctx->pin_id,
                      lcf->limit_dry_run ? " (dry run, let through)" : "");

        if (lcf->limit_dry_run) {
            ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_REJECTED_DRY_RUN;
            return NGX_DECLINED;
        }

        ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_REJECTED;
        ctx->limit_unavailable = 1;

        return ngx_http_tfa_resend_send_error(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "GENERAL_ERROR",
                                              "The resend limiter has no "
                                              "room for this PIN now. "
                                              "Try again later.");

    default: /* NGX_ERROR */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tfa_resend: tfa_resend_limit_zone \"%V\" (%V store) "
                      "failed for pinId \"%V\"",
                      &store->name, &store->type->name, &ctx->pin_id);

        ngx_http_tfa_resend_limit_count(store, op,
                              NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_REJECTED);

        ctx->limit_state = NGX_HTTP_TFA_RESEND_LIMIT_REJECTED;
        ctx->limit_unavailable = 1;

        return ngx_http_tfa_resend_send_error(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "GENERAL_ERROR",
                                              "The resend limiter is not "
                                              "available. Try again "
                                              "later.");
    }
}


/* the zone's decision, unless its store counted one on a store error */

static void
ngx_http_tfa_resend_limit_count(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op,
    ngx_http_tfa_resend_metrics_decision_e decision)
{
    if (!op->store_error) {
        ngx_http_tfa_resend_metrics_decision(store->metrics, decision);
    }
}


/*
 * A remote store's answer (op->rc is final now): the caller of
 * ngx_http_tfa_resend_limit_request() is called again, and that call
 * returns the decision.
 */

static void
ngx_http_tfa_resend_limit_done(ngx_http_tfa_resend_store_op_t *op)
{
    ngx_connection_t                       *c;
    ngx_http_request_t                     *r;
    ngx_http_tfa_resend_limit_admission_t  *adm;

    adm = op->data;
    r = adm->request;
    c = r->connection;

    if (op->rc == NGX_AGAIN) {
        op->rc = NGX_ERROR;
    }

    r->read_event_handler = ngx_http_block_reading;

    adm->resume(r);

    ngx_http_run_posted_requests(c);
}


/*
 * The end of an admitted request.  A call was placed only if the upstream
 * accepted it: any status but 2xx (a 4xx refusal, the gateway's own
 * credentials refused, a 429 of the upstream's own limit) or none at all
 * (nginx's 502 or 504: the upstream was not reached or did not answer)
 * means it was not, and the admission is taken back.  A 2xx is never
 * taken back, whatever became of its body: the call is paid for.  A
 * request whose upstream never got to say anything (the client went away
 * first, status 0) keeps its admission: the call may have been placed.
 */

static void
ngx_http_tfa_resend_limit_refund(void *data)
{
    ngx_http_tfa_resend_limit_admission_t  *adm = data;

    ngx_uint_t                   i, status, sent;
    ngx_http_request_t          *r;
    ngx_http_upstream_state_t   *state;
    ngx_http_tfa_resend_store_t *store;

    r = adm->request;
    store = adm->store;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return;
    }

    state = r->upstream_states->elts;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        if (state[i].status >= NGX_HTTP_OK
            && state[i].status < NGX_HTTP_SPECIAL_RESPONSE)
        {
            return;
        }
    }

    status = state[r->upstream_states->nelts - 1].status;
    sent = r->headers_out.status;

    if (status == 0) {
        return;
    }

    adm->op.done = NULL;
    adm->op.pool = NULL;
    adm->op.now = ngx_current_msec;

    (void) store->type->refund(store, &adm->op);

    ngx_http_tfa_resend_metrics_refund(store->metrics);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "tfa_resend: tfa_resend_limit refunded the resend of "
                  "pinId \"%V\" in zone \"%V\": the upstream's status "
                  "was %ui, the client's %ui",
                  &adm->op.key, &store->name, status, sent);
}


/* "10m", "1h30m", "1500ms": the window as the configuration would say it */

static u_char *
ngx_http_tfa_resend_limit_window(u_char *p, ngx_msec_t ms)
{
    ngx_uint_t  i;

    static struct {
        ngx_msec_t   unit;
        char        *name;
    } units[] = {
        { 86400000, "d" },
        { 3600000, "h" },
        { 60000, "m" },
        { 1000, "s" },
        { 1, "ms" }
    };

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms >= units[i].unit) {
            p = ngx_sprintf(p, "%M%s", ms / units[i].unit, units[i].name);
            ms %= units[i].unit;
        }
    }

    return p;
}


/*
 * X-RateLimit-Limit and X-RateLimit-Remaining on every response to an
 * intercepted resend in a limited location (Retry-After on a rejection):
 * admitted, rejected, or answered before the limiter was asked (then the
 * store is inspected without counting).  The upstream's own headers of
 * these names are replaced.
 */

static ngx_int_t
ngx_http_tfa_resend_limit_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                       *name;
    ngx_http_tfa_resend_ctx_t       *ctx;
    ngx_http_tfa_resend_store_t     *store;
    ngx_http_tfa_resend_loc_conf_t  *lcf;
    ngx_http_tfa_resend_store_op_t   op;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx == NULL || ctx->limit_headers) {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    /* after a redirect, the zone of the location that admitted it */

    store = ctx->limit_store ? ctx->limit_store : lcf->limit_store;

    if (store == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx->limit_headers = 1;

    if (ctx->limit_state == NGX_HTTP_TFA_RESEND_LIMIT_NONE
        || ctx->limit_state == NGX_HTTP_TFA_RESEND_LIMIT_PENDING)
    {
        ngx_memzero(&op, sizeof(ngx_http_tfa_resend_store_op_t));

        op.key = ctx->pin_id;
        op.now = ngx_current_msec;
        op.log = r->connection->log;

        /* without a valid pinId there is nothing to look up */

        rc = ctx->pin_id.len ? store->type->inspect(store, &op)
                             : NGX_DECLINED;

        if (rc != NGX_OK) {

            /* a remote store cannot tell without asking: the limit only */

            if (ngx_http_tfa_resend_limit_set_header(r,
                                         &ngx_http_tfa_resend_limit_headers[0],
                                         store->limit)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            return ngx_http_next_header_filter(r);
        }

        ctx->limit_limit = store->limit;
        ctx->limit_remaining = op.remaining;
        ctx->limit_inspected = 1;
    }

    name = ngx_http_tfa_resend_limit_headers;

    if (ngx_http_tfa_resend_limit_set_header(r, &name[0], ctx->limit_limit)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_limit_set_header(r, &name[1],
                                             ctx->limit_remaining)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->limit_state == NGX_HTTP_TFA_RESEND_LIMIT_REJECTED
        && ctx->limit_retry_after)
    {
        if (ngx_http_tfa_resend_limit_set_header(r, &name[2],
                                     (ctx->limit_retry_after + 999) / 1000)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_tfa_resend_limit_set_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t value)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* one of each: an upstream's header of the same name goes */

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            h[i].hash = 0;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (h->value.data == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *name;
    h->value.len = ngx_sprintf(h->value.data, "%ui", value) - h->value.data;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


char *
ngx_http_tfa_resend_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                                  *p;
    ssize_t                                  size;
    ngx_int_t                                limit, window;
    ngx_str_t                               *value, *param, *kind_param;
    ngx_str_t                                name, s;
    ngx_uint_t                               i;
    ngx_array_t                             *params;
    ngx_shm_zone_t                          *shm_zone;
    ngx_http_tfa_resend_store_t             *store;
    const ngx_http_tfa_resend_store_kind_t  *kind;

    value = cf->args->elts;

    params = NULL;
    kind_param = NULL;
    size = 0;
    limit = 0;
    window = 0;
    name.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_tfa_resend_conf_param(&value[i], "zone=", &name)) {

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL || p == name.data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\": use "
                                   "zone=NAME:SIZE", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small: "
                                   "at least %uzk", &value[i],
                                   8 * ngx_pagesize / 1024);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_tfa_resend_conf_param(&value[i], "rate=", &s)) {

            p = (u_char *) ngx_strchr(s.data, '/');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": use rate=N/WINDOW, "
                                   "as in rate=3/10m", &value[i]);
                return NGX_CONF_ERROR;
            }

            limit = ngx_atoi(s.data, p - s.data);

            if (limit < 1 || limit > NGX_HTTP_TFA_RESEND_STORE_MAX_LIMIT) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": the number of "
                                   "resends must be from 1 to %d",
                                   &value[i],
                                   NGX_HTTP_TFA_RESEND_STORE_MAX_LIMIT);
                return NGX_CONF_ERROR;
            }

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            window = ngx_parse_time(&s, 0);

            if (window == NGX_ERROR || window == 0
                || (ngx_msec_t) window
                   > NGX_HTTP_TFA_RESEND_STORE_MAX_WINDOW)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": the window must be "
                                   "a time from 1ms to 30d, as in 30s, 10m, "
                                   "1h or 1d", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_tfa_resend_conf_param(&value[i], "store=", NULL)) {

            if (kind_param) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            kind_param = &value[i];

            continue;
        }

        /* redis_timeout= ...: a kind of store's own, checked below */

        if (ngx_http_tfa_resend_store_param(&value[i])) {

            if (params == NULL) {
                params = ngx_array_create(cf->temp_pool, 4,
                                          sizeof(ngx_str_t));
                if (params == NULL) {
                    return NGX_CONF_ERROR;
                }
            }

            param = ngx_array_push(params);
            if (param == NULL) {
                return NGX_CONF_ERROR;
            }

            *param = value[i];

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (limit == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"rate\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    kind = ngx_http_tfa_resend_store_kind(cf, kind_param);
    if (kind == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_tfa_resend_store_check_params(cf, kind, params) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_tfa_resend_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\": %V \"%V\" is already "
                           "defined", &name, &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_store_t));
    if (store == NULL) {
        return NGX_CONF_ERROR;
    }

    store->kind = kind;
    store->shm_zone = shm_zone;
    store->name = shm_zone->shm.name;
    store->limit = limit;
    store->window = window;

    if (kind->create(cf, store, kind_param, params) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    store->metrics = ngx_http_tfa_resend_metrics_add_zone(cf, store);

    if (store->metrics == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}



char *
ngx_http_tfa_resend_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tfa_resend_loc_conf_t *lcf = conf;

    ngx_str_t       *value, s;
    ngx_shm_zone_t  *shm_zone;

    if (lcf->limit_store != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        lcf->limit_store = NULL;
        return NGX_CONF_OK;
    }

    if (!ngx_http_tfa_resend_conf_param(&value[1], "zone=", &s)
        || s.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": use zone=NAME or off",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &s, 0, &ngx_http_tfa_resend_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown tfa_resend_limit_zone \"%V\" (a zone is "
                           "declared before it is used)", &s);
        return NGX_CONF_ERROR;
    }

    lcf->limit_store = shm_zone->data;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_tfa_resend_limit_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tfa_resend_limit_header_filter;

    return NGX_OK;
}


/*
 * A worker exits: each zone's store lets go of what it holds in the worker
 * (the module's exit_process)
 */

void
ngx_http_tfa_resend_limit_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_shm_zone_t               *shm_zone;
    ngx_list_part_t              *part;
    ngx_http_tfa_resend_store_t  *store;

    part = &cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag != &ngx_http_tfa_resend_module) {
            continue;
        }

        store = shm_zone[i].data;

        if (store && store->kind && store->kind->exit_process) {
            store->kind->exit_process(store);
        }
    }
}
