
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * What every response the module makes needs, whoever makes it: the
 * request's resend state, and the canonical answer turned into the buffer
 * and headers nginx sends.  The interception handler, the limiter and the
 * filter call down into this file; it calls none of them.
 */


#ifndef _NGX_HTTP_TFA_RESEND_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_RESPONSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_normalize.h"


/*
 * The request's resend state, with the pinId kept only when it matches
 * the location's pattern; NULL when memory runs out.
 */
ngx_http_tfa_resend_ctx_t *ngx_http_tfa_resend_create_ctx(
    ngx_http_request_t *r, ngx_http_tfa_resend_loc_conf_t *lcf,
    const u_char *pin, size_t len);

/*
 * The request's resend state, also after an internal redirect (which clears
 * module contexts): NULL for a request that is no intercepted resend.
 */
ngx_http_tfa_resend_ctx_t *ngx_http_tfa_resend_get_ctx(
    ngx_http_request_t *r);

/*
 * Sends a canonical error response made by the module itself (400, 405,
 * 415, 429, 503 ...) and returns what the caller returns to nginx (as
 * ngx_http_send_header / ngx_http_output_filter do).
 */
ngx_int_t ngx_http_tfa_resend_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message_id, const char *text);

/*
 * Writes the canonical error answer to the resend in ctx into c, in the
 * request's pool: status, and message_id, text and call_status or NULL for
 * the normalizer's defaults.  NGX_OK, or NGX_ERROR when memory runs out.
 */
ngx_int_t ngx_http_tfa_resend_error_answer(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_uint_t status,
    const char *message_id, const char *text, const char *call_status,
    ngx_http_tfa_resend_canonical_t *c);

/*
 * Makes the canonical answer c, written in the request's pool by the
 * normalizer, ctx->answer, and sets the response headers for it.  c is
 * freed either way.
 */
ngx_int_t ngx_http_tfa_resend_prepare(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_http_tfa_resend_canonical_t *c);

/* the normalizer's allocator over an ngx_pool_t (data) */
void *ngx_http_tfa_resend_pool_alloc(void *data, size_t size);


#endif /* _NGX_HTTP_TFA_RESEND_RESPONSE_H_INCLUDED_ */
