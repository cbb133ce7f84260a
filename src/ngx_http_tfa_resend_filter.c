
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The response side of an intercepted resend: whatever answers it (the
 * upstream, nginx, or the module itself), the client gets the canonical
 * JSON body.  The header filter holds the upstream's headers, the body
 * filter collects the body up to tfa_resend_max_response_size, and at the
 * last buffer the normalizer (plain C, src/ngx_http_tfa_resend_normalize.c)
 * turns it into the canonical answer, which is then sent in one buffer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_filter.h"
#include "ngx_http_tfa_resend_headers.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_normalize.h"
#include "ngx_http_tfa_resend_response.h"


static ngx_int_t ngx_http_tfa_resend_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_tfa_resend_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_http_tfa_resend_ctx_t *ngx_http_tfa_resend_early_ctx(
    ngx_http_request_t *r, ngx_http_tfa_resend_loc_conf_t *lcf);
static void ngx_http_tfa_resend_log_refused(ngx_http_request_t *r,
    ngx_http_tfa_resend_loc_conf_t *lcf, ngx_uint_t status);
static ngx_uint_t ngx_http_tfa_resend_usable_status(ngx_uint_t status);
static ngx_int_t ngx_http_tfa_resend_nginx_answer(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_uint_t status,
    ngx_http_tfa_resend_canonical_t *c);
static ngx_int_t ngx_http_tfa_resend_collect(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_tfa_resend_answer_upstream(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx);
static ngx_int_t ngx_http_tfa_resend_send_answer(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx);
static ngx_int_t ngx_http_tfa_resend_upstream_failed(ngx_http_request_t *r);
static void ngx_http_tfa_resend_upstream_finalize(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_tfa_resend_count(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_uint_t own);
static void ngx_http_tfa_resend_status_map_cleanup(void *data);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_tfa_resend_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                        status;
    ngx_http_upstream_t              *u;
    ngx_http_tfa_resend_ctx_t        *ctx;
    ngx_http_tfa_resend_loc_conf_t   *lcf;
    ngx_http_tfa_resend_canonical_t   c;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);
    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx == NULL && r->err_status && lcf->enable) {
        ctx = ngx_http_tfa_resend_early_ctx(r, lcf);
    }

    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->own_response) {
        ngx_http_tfa_resend_count(r, ctx, 1);
        return ngx_http_next_header_filter(r);
    }

    status = r->headers_out.status;

    if (r->upstream && !r->err_status
        && (status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN))
    {
        ngx_http_tfa_resend_log_refused(r, lcf, status);
    }

    if (!lcf->normalize) {
        ngx_http_tfa_resend_count(r, ctx, r->err_status);
        return ngx_http_next_header_filter(r);
    }

    if (r->err_status) {

        /*
         * nginx's own answer (client_max_body_size, upstream refused or
         * timed out, error_page ...): its HTML page is replaced as a whole
         */

        if (ngx_http_tfa_resend_nginx_answer(r, ctx, status, &c) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_tfa_resend_prepare(r, ctx, &c) != NGX_OK) {
            return NGX_ERROR;
        }

        /* an upstream's error answer kept by proxy_intercept_errors */

        if (r->upstream) {
            ngx_http_tfa_resend_scrub_response(r, c.status);
        }

        ctx->replace_body = 1;

        ngx_http_tfa_resend_count(r, ctx, 1);

        return ngx_http_next_header_filter(r);
    }

    /* the upstream's answer: hold the headers until the whole body is in */

    ctx->upstream_status = status;
    ctx->collecting = 1;

    /* a location reached by a redirect may answer without an upstream */

    u = (r->upstream == ctx->upstream) ? r->upstream : NULL;

    if (!ngx_http_tfa_resend_usable_status(status)) {

        /*
         * No answer to read (a 1xx, a redirect, a part): it is not waited
         * for.  The upstream module reads no body and closes the
         * connection, whatever follows on it.
         */

        ctx->unusable = 1;

        if (u) {
            u->headers_in.content_length_n = 0;
            u->headers_in.chunked = 0;
            u->headers_in.connection_close = 1;
        }
    }

    /*
     * The upstream may still fail before its body ends.  nginx then ends
     * the request with a flush (a premature close, an error status), or,
     * when the body's framing is broken, at once without one: the wrapper
     * sees each way out, so that the client gets the canonical answer.
     */

    if (u && u->finalize_request
        && u->finalize_request != ngx_http_tfa_resend_upstream_finalize)
    {
        ctx->finalize_request = u->finalize_request;
        u->finalize_request = ngx_http_tfa_resend_upstream_finalize;
    }

    r->filter_need_in_memory = 1;
    r->allow_ranges = 0;

    return NGX_OK;
}


/*
 * The statuses whose answer the normalizer reads: 200, 201, 202, and the
 * errors.  A 1xx is no answer yet, a 3xx points elsewhere, a 206 is a
 * part, and the other 2xx are not what the API answers a resend with.
 */

static ngx_uint_t
ngx_http_tfa_resend_usable_status(ngx_uint_t status)
{
    return (status >= NGX_HTTP_OK && status <= NGX_HTTP_ACCEPTED)
           || (status >= NGX_HTTP_BAD_REQUEST && status < 600);
}


/*
 * nginx refused a resend before the phase handler saw it (client checks,
 * client_max_body_size): it is a resend all the same.
 */

static ngx_http_tfa_resend_ctx_t *
ngx_http_tfa_resend_early_ctx(ngx_http_request_t *r,
    ngx_http_tfa_resend_loc_conf_t *lcf)
{
    ngx_http_tfa_resend_path_t  m;

    if (ngx_http_tfa_resend_match_path(r->uri.data, r->uri.len, &m)
        != NGX_HTTP_TFA_RESEND_PATH_EXACT)
    {
        return NULL;
    }

    return ngx_http_tfa_resend_create_ctx(r, lcf, r->uri.data + m.pin_off,
                                          m.pin_len);
}


/*
 * The upstream refused the gateway itself: its credentials (rotated,
 * revoked, or of an account without the right) rather than the client's
 * request.  Once a second per location at the most in each worker, so
 * that a wrong secret does not flood the log; the secret is never named.
 * A second is measured from the last line, not by the clock's second,
 * whose turn would let two refusals a millisecond apart both be logged.
 */

static void
ngx_http_tfa_resend_log_refused(ngx_http_request_t *r,
    ngx_http_tfa_resend_loc_conf_t *lcf, ngx_uint_t status)
{
    if (lcf->refused_logged != 0
        && ngx_current_msec - lcf->refused_logged < 1000)
    {
        return;
    }

    lcf->refused_logged = ngx_current_msec ? ngx_current_msec : 1;

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "tfa_resend: the upstream answered %ui to a resend: "
                  "likely a problem with the gateway's credentials "
                  "(tfa_resend_credentials), not the client's request "
                  "(logged once a second at most)", status);
}


/*
 * An error nginx made while proxying a resend says nothing about the call:
 * a 502 or 504 with an upstream is the upstream failing to answer.
 */

static ngx_int_t
ngx_http_tfa_resend_nginx_answer(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_uint_t status,
    ngx_http_tfa_resend_canonical_t *c)
{
    const char  *message_id, *text, *call_status;

    message_id = NULL;
    text = NULL;
    call_status = NULL;

    if (r->upstream && status == NGX_HTTP_GATEWAY_TIME_OUT) {
        message_id = "UPSTREAM_TIMEOUT";
        text = "upstream did not answer in time";
        call_status = "ERROR";

    } else if (r->upstream && status == NGX_HTTP_BAD_GATEWAY) {
        message_id = "UPSTREAM_ERROR";
        text = "upstream did not answer";
        call_status = "ERROR";
    }

    return ngx_http_tfa_resend_error_answer(r, ctx, status, message_id, text,
                                            call_status, c);
}


static ngx_int_t
ngx_http_tfa_resend_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                   rc;
    ngx_chain_t                *cl;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx == NULL || !(ctx->collecting || ctx->replace_body)) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->sent) {
        /* whatever comes after the canonical answer is not for the client */

        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_OK;
    }

    if (ctx->replace_body) {
        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return ngx_http_tfa_resend_send_answer(r, ctx);
    }

    rc = ngx_http_tfa_resend_collect(r, ctx, in);

    if (rc == NGX_AGAIN) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_tfa_resend_answer_upstream(r, ctx);
}


/*
 * Appends the chain to the collected body.  Returns NGX_OK when the body
 * is complete (last buffer seen, or the upstream failed and nginx flushes
 * what it has), NGX_AGAIN while more is due.
 */

static ngx_int_t
ngx_http_tfa_resend_collect(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_chain_t *in)
{
    size_t                           size, cap;
    u_char                          *p;
    ngx_uint_t                       last, flush;
    ngx_chain_t                     *cl;
    ngx_http_tfa_resend_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    last = 0;
    flush = 0;

    for (cl = in; cl; cl = cl->next) {

        size = ngx_buf_size(cl->buf);

        if (size && !ngx_buf_in_memory(cl->buf)) {
            /* filter_need_in_memory should have prevented this */
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "tfa_resend: upstream body buffer not in memory");
            return NGX_ERROR;
        }

        ctx->received += size;

        if (ctx->received > (off_t) lcf->max_response_size) {
            ctx->too_large = 1;

        } else if (size) {
            if (ctx->body == NULL
                || (size_t) (ctx->body->end - ctx->body->last) < size)
            {
                cap = ngx_max((size_t) ctx->received, 2 * (ctx->body
                                                  ? (size_t) (ctx->body->end
                                                    - ctx->body->start)
                                                  : 1024));
                cap = ngx_min(cap, lcf->max_response_size);

                p = ngx_pnalloc(r->pool, cap);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                if (ctx->body == NULL) {
                    ctx->body = ngx_calloc_buf(r->pool);
                    if (ctx->body == NULL) {
                        return NGX_ERROR;
                    }

                    ctx->body->pos = p;
                    ctx->body->last = p;

                } else {
                    ctx->body->last = ngx_cpymem(p, ctx->body->pos,
                                                 ctx->body->last
                                                 - ctx->body->pos);
                    ctx->body->pos = p;
                }

                ctx->body->start = p;
                ctx->body->end = p + cap;
            }

            ctx->body->last = ngx_cpymem(ctx->body->last, cl->buf->pos, size);
        }

        /* consumed: the upstream module may reuse the buffer */

        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;

        if (cl->buf->last_buf) {
            last = 1;
        }

        if (cl->buf->flush) {
            flush = 1;
        }
    }

    if (last) {
        return NGX_OK;
    }

    if (flush && ngx_http_tfa_resend_upstream_failed(r)) {
        ctx->cut_short = 1;
        return NGX_OK;
    }

    return NGX_AGAIN;
}


/*
 * nginx flushes instead of ending the body when the upstream broke off
 * after its headers (closed early, reset, timed out): the pipe says so.
 */

static ngx_int_t
ngx_http_tfa_resend_upstream_failed(ngx_http_request_t *r)
{
    ngx_event_pipe_t           *p;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (r->upstream == NULL || r->upstream->pipe == NULL
        || ctx == NULL || r->upstream != ctx->upstream)
    {
        return 0;
    }

    p = r->upstream->pipe;

    return p->upstream_error
           || (p->upstream_eof && !p->upstream_done && p->length != -1);
}


/*
 * In place of the upstream module's finalize_request, while the upstream's
 * answer is being collected.  It runs before the upstream connection is
 * closed: a read timeout is still visible on it.  With NGX_ERROR (broken
 * chunked framing, say) nginx neither flushes nor ends the body, and ends
 * the request right after: the canonical answer is sent here, else the
 * client would get nothing at all.
 */

static void
ngx_http_tfa_resend_upstream_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_upstream_t        *u;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx == NULL || ctx->finalize_request == NULL) {
        return;
    }

    ctx->finalize_request(r, rc);

    if (!ctx->collecting || ctx->sent) {
        return;
    }

    u = r->upstream;

    if (rc == NGX_HTTP_GATEWAY_TIME_OUT
        || (u->peer.connection && u->peer.connection->read->timedout))
    {
        ctx->timed_out = 1;
    }

    if (rc != NGX_ERROR
        || r->connection->error
        || (u->pipe && u->pipe->downstream_error))
    {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tfa_resend: upstream answer aborted");

    ctx->cut_short = 1;

    (void) ngx_http_tfa_resend_answer_upstream(r, ctx);
}


static ngx_int_t
ngx_http_tfa_resend_answer_upstream(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx)
{
    ngx_uint_t                        status;
    const char                       *text, *message_id;
    ngx_http_upstream_t              *u;
    ngx_http_tfa_resend_loc_conf_t   *lcf;
    ngx_http_tfa_resend_answer_t      in;
    ngx_http_tfa_resend_canonical_t   c;
    ngx_http_tfa_resend_allocator_t   pool;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);
    u = (r->upstream == ctx->upstream) ? r->upstream : NULL;

    text = NULL;
    status = NGX_HTTP_BAD_GATEWAY;
    message_id = "UPSTREAM_ERROR";

    if (ctx->unusable) {
        text = "upstream answer has a status the gateway does not use";

    } else if (ctx->too_large) {
        text = "upstream answer is larger than tfa_resend_max_response_size";

    } else if (ctx->cut_short && ctx->timed_out) {
        text = "upstream did not answer in time";
        status = NGX_HTTP_GATEWAY_TIME_OUT;
        message_id = "UPSTREAM_TIMEOUT";

    } else if (ctx->cut_short
               || (u && u->headers_in.content_length_n >= 0
                   && u->headers_in.content_length_n != (off_t) ctx->received))
    {
        text = "upstream answer was cut short";

    } else if (r->headers_out.content_encoding
               && r->headers_out.content_encoding->value.len
               && ngx_strcasecmp(r->headers_out.content_encoding->value.data,
                                 (u_char *) "identity")
                  != 0)
    {
        text = "upstream answer is compressed";
    }

    if (text) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tfa_resend: %s (status %ui, %O bytes)", text,
                      ctx->upstream_status, (off_t) ctx->received);

        if (ngx_http_tfa_resend_error_answer(r, ctx, status, message_id,
                                             text, "ERROR", &c)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        pool.alloc = ngx_http_tfa_resend_pool_alloc;
        pool.data = r->pool;

        ngx_memzero(&in, sizeof(ngx_http_tfa_resend_answer_t));

        in.status = (int) ctx->upstream_status;

        if (ctx->body) {
            in.body = ctx->body->pos;
            in.body_len = ctx->body->last - ctx->body->pos;
        }

        if (r->headers_out.content_type.len) {
            in.content_type = r->headers_out.content_type.data;
            in.content_type_len = r->headers_out.content_type.len;
        }

        if (ctx->pin_id.len) {
            in.pin_id = ctx->pin_id.data;
            in.pin_id_len = ctx->pin_id.len;
        }

        in.map = lcf->status_map;
        in.allocator = &pool;

        if (ngx_http_tfa_resend_normalize(&in, &c) != 0) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_tfa_resend_prepare(r, ctx, &c) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_tfa_resend_count(r, ctx, text != NULL);
    ngx_http_tfa_resend_scrub_response(r, r->headers_out.status);

    if (ngx_http_next_header_filter(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_tfa_resend_send_answer(r, ctx);
}


/*
 * Sends the prepared answer's body down the rest of the body filters, in
 * place of the upstream's or nginx's own body (the header has gone on).
 */

static ngx_int_t
ngx_http_tfa_resend_send_answer(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx)
{
    ngx_chain_t  out;

    ctx->sent = 1;

    if (r->header_only) {
        return NGX_OK;
    }

    out.buf = ctx->answer;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * The metrics of an intercepted resend, once, as its answer's header goes
 * out: a request has one, whatever internal redirects it took.  own: the
 * answer is the gateway's (a refusal, or an error of nginx or the module's
 * in place of the upstream's answer), not the upstream's.
 */

static void
ngx_http_tfa_resend_count(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_uint_t own)
{
    uint64_t                               now;
    ngx_uint_t                             status;
    ngx_http_upstream_t                   *u;
    ngx_http_tfa_resend_metrics_outcome_e  outcome;

    if (ctx->counted) {
        return;
    }

    ctx->counted = 1;

    u = r->upstream;
    status = r->headers_out.status;

    if (ctx->limit_state == NGX_HTTP_TFA_RESEND_LIMIT_REJECTED) {
        outcome = ctx->limit_unavailable
                  ? NGX_HTTP_TFA_RESEND_METRICS_UNAVAILABLE
                  : NGX_HTTP_TFA_RESEND_METRICS_LIMITED;

    } else if (!own) {
        outcome = NGX_HTTP_TFA_RESEND_METRICS_FORWARDED;

    } else if (u && (status == NGX_HTTP_BAD_GATEWAY
                     || status == NGX_HTTP_GATEWAY_TIME_OUT))
    {
        outcome = NGX_HTTP_TFA_RESEND_METRICS_UPSTREAM_FAILED;

    } else if (status >= 400 && status < 500) {
        outcome = NGX_HTTP_TFA_RESEND_METRICS_INVALID;

    } else {
        /* another error of the gateway's own (500) */
        outcome = NGX_HTTP_TFA_RESEND_METRICS_UNAVAILABLE;
    }

    ngx_http_tfa_resend_metrics_request(outcome);
    ngx_http_tfa_resend_metrics_call_status(ctx->call_status);

    /* the upstream's own status line, if it got as far */

    if (u == NULL || u->headers_in.status_n == 0) {
        return;
    }

    ngx_http_tfa_resend_metrics_upstream_status(u->headers_in.status_n);

    now = ngx_http_tfa_resend_metrics_clock();

    if (ctx->forwarded_at && now > ctx->forwarded_at) {
        ngx_http_tfa_resend_metrics_upstream_time(
                                       (ngx_uint_t) (now - ctx->forwarded_at));
    }
}


/* tfa_resend_status_map FROM CANONICAL; */

char *
ngx_http_tfa_resend_status_map(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tfa_resend_loc_conf_t *lcf = conf;

    char                 err[256];
    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;

    value = cf->args->elts;

    if (lcf->status_map == NULL) {
        lcf->status_map = ngx_http_tfa_resend_status_map_create();
        if (lcf->status_map == NULL) {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            ngx_http_tfa_resend_status_map_free(lcf->status_map);
            lcf->status_map = NULL;
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_tfa_resend_status_map_cleanup;
        cln->data = lcf->status_map;
    }

    if (ngx_http_tfa_resend_status_map_add(lcf->status_map,
                                           value[1].data, value[1].len,
                                           value[2].data, value[2].len,
                                           err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tfa_resend_status_map \"%V %V\": %s "
                           "(a callStatus is one of BAD_REQUEST, PROCESSING, "
                           "PROCESSED, ANSWERED_MACHINE, ERROR, "
                           "ERROR_NOT_ENOUGH_CREDITS, "
                           "ERROR_NETWORK_NOT_AVAILABLE, "
                           "ERROR_ROUTE_NOT_AVAILABLE, ERROR_USER_BUSY, "
                           "ERROR_NO_ANSWER, UNDEFINED)",
                           &value[1], &value[2], err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_tfa_resend_status_map_cleanup(void *data)
{
    ngx_http_tfa_resend_status_map_free(data);
}


ngx_int_t
ngx_http_tfa_resend_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tfa_resend_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_tfa_resend_body_filter;

    return NGX_OK;
}
