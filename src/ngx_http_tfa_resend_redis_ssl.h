
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's TLS, set up when the configuration is read.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_SSL_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_SSL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_redis_conn.h"


/*
 * The redis_ssl_*= parameters, in the order ngx_http_tfa_resend_redis_params[]
 * lists them: verify, trusted_certificate, name, certificate, certificate_key
 */
#define NGX_HTTP_TFA_RESEND_REDIS_SSL_PARAMS    5


/*
 * rd->ssl, rd->ssl_name and rd->ssl_verify of a rediss:// or
 * rediss-sentinel:// store (url), from given[0 ... SSL_PARAMS - 1], each
 * NULL if not given; a redis:// store must have none
 */
ngx_int_t ngx_http_tfa_resend_redis_ssl(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *url, ngx_str_t **given);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_SSL_H_INCLUDED_ */
