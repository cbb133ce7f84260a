
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * What on_store_error makes of a resend the Redis store cannot decide.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_FALLBACK_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_FALLBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_store.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_redis_conn.h"


/*
 * Redis cannot decide the resend (conn->why says why, reason counts it):
 * on_store_error does, as the limiter's admit would answer (NGX_OK,
 * NGX_BUSY, NGX_ERROR; also in op->rc); logged once a second at most
 */
ngx_int_t ngx_http_tfa_resend_redis_fallback(
    ngx_http_tfa_resend_redis_t *rd, ngx_http_tfa_resend_store_op_t *op,
    ngx_http_tfa_resend_metrics_reason_e reason);

/* why the connection is not there, or went: as the metrics count it */
ngx_http_tfa_resend_metrics_reason_e ngx_http_tfa_resend_redis_down(
    ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_FALLBACK_H_INCLUDED_ */
