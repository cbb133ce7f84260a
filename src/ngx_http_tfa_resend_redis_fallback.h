
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


ngx_int_t ngx_http_tfa_resend_redis_fallback(
    ngx_http_tfa_resend_redis_t *rd, ngx_http_tfa_resend_store_op_t *op,
    ngx_http_tfa_resend_metrics_reason_e reason);
ngx_http_tfa_resend_metrics_reason_e ngx_http_tfa_resend_redis_down(
    ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_FALLBACK_H_INCLUDED_ */
