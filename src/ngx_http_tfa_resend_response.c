
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The canonical answer as nginx sends it.  Whoever answers an intercepted
 * resend (the interception handler refusing it, the limiter rejecting it,
 * the filter replacing nginx's or the upstream's answer), the answer is
 * made by the normalizer (plain C) into the request's pool and sent from
 * there in one buffer with the headers set here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_normalize.h"
#include "ngx_http_tfa_resend_response.h"


static void ngx_http_tfa_resend_ctx_cleanup(void *data);


/*
 * The request's resend state.  Besides the phase handler, the filter makes
 * it for a resend that nginx answered before the phases ran (a body over
 * client_max_body_size is refused while the location is chosen).
 */

ngx_http_tfa_resend_ctx_t *
ngx_http_tfa_resend_create_ctx(ngx_http_request_t *r,
    ngx_http_tfa_resend_loc_conf_t *lcf, const u_char *pin, size_t len)
{
    u_char                     *p;
    ngx_pool_cleanup_t         *cln;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tfa_resend_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /* found again by ngx_http_tfa_resend_get_ctx() after a redirect */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_tfa_resend_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_tfa_resend_module);

    if (len == 0) {
        return ctx;
    }

    /*
     * The pinId is folded (tfa_resend_pin_case) before anything reads it:
     * one pinId is one count whatever the case it was sent in.
     * $tfa_resend_pin_id and the canonical body carry only a valid pinId.
     */

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_http_tfa_resend_fold_pin(p, pin, len,
                              (ngx_http_tfa_resend_pin_case_e) lcf->pin_case);

    if (ngx_http_tfa_resend_pattern_match(lcf->pin_pattern, p, len)) {
        ctx->pin_id.data = p;
        ctx->pin_id.len = len;
    }

    return ctx;
}


/*
 * An internal redirect (error_page, try_files, a named location) clears
 * every module's context, but the request stays the resend it was: its
 * state is found again through its pool cleanup, by the cleanup's handler,
 * as the realip module finds its own.  What the previous location made of
 * the answer goes; the admission and the pinId stay.
 */

ngx_http_tfa_resend_ctx_t *
ngx_http_tfa_resend_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tfa_resend_module);

    if (ctx || !r->internal || r != r->main) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler != ngx_http_tfa_resend_ctx_cleanup) {
            continue;
        }

        ctx = cln->data;

        ctx->redirected = 1;
        ctx->content_handler = NULL;
        ctx->create_request = NULL;
        ctx->upstream = NULL;
        ctx->upstream_status = 0;
        ctx->received = 0;
        ctx->body = NULL;
        ctx->answer = NULL;
        ctx->finalize_request = NULL;
        ctx->replace_body = 0;
        ctx->collecting = 0;
        ctx->too_large = 0;
        ctx->cut_short = 0;
        ctx->unusable = 0;
        ctx->timed_out = 0;
        ctx->limit_headers = 0;

        ngx_http_set_ctx(r, ctx, ngx_http_tfa_resend_module);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "tfa_resend: resend state kept across a redirect");

        return ctx;
    }

    return NULL;
}


static void
ngx_http_tfa_resend_ctx_cleanup(void *data)
{
    /* nothing to free: the handler only marks the state's cleanup */
}


ngx_int_t
ngx_http_tfa_resend_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message_id, const char *text)
{
    ngx_int_t                         rc;
    ngx_chain_t                       out;
    ngx_http_tfa_resend_ctx_t        *ctx;
    ngx_http_tfa_resend_canonical_t   c;

    ctx = ngx_http_tfa_resend_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the client may still be sending a body nobody will read */

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_tfa_resend_error_answer(r, ctx, status, message_id, text,
                                         NULL, &c)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_tfa_resend_prepare(r, ctx, &c) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the body is canonical already: the filters let it through */

    ctx->own_response = 1;

    if (!r->header_sent) {
        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            ctx->sent = 1;
            return rc;
        }
    }

    ctx->sent = 1;

    if (r->header_only) {
        return NGX_OK;
    }

    out.buf = ctx->answer;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_tfa_resend_error_answer(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_uint_t status,
    const char *message_id, const char *text, const char *call_status,
    ngx_http_tfa_resend_canonical_t *c)
{
    ngx_http_tfa_resend_allocator_t  pool;

    pool.alloc = ngx_http_tfa_resend_pool_alloc;
    pool.data = r->pool;

    if (ngx_http_tfa_resend_canonical_error((int) status,
                                            ctx->pin_id.len
                                                ? ctx->pin_id.data : NULL,
                                            ctx->pin_id.len, message_id,
                                            text, call_status, &pool, c)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_prepare(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_http_tfa_resend_canonical_t *c)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_tfa_resend_canonical_free(c);
        return NGX_ERROR;
    }

    b->start = (u_char *) c->body;
    b->pos = b->start;
    b->last = b->start + c->body_len;
    b->end = b->last;
    b->temporary = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ctx->answer = b;
    ctx->call_status = c->call_status;

    r->headers_out.status = c->status;
    r->headers_out.status_line.len = 0;
    r->err_status = 0;

    ngx_http_tfa_resend_canonical_free(c);

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    r->allow_ranges = 0;

    return NGX_OK;
}


/*
 * The normalizer's allocator: the canonical body is written straight into
 * the request's pool, and sent from there.
 */

void *
ngx_http_tfa_resend_pool_alloc(void *data, size_t size)
{
    return ngx_pnalloc((ngx_pool_t *) data, size);
}
