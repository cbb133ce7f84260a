
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's Lua scripts and what their calls carry.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_SCRIPT_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_SCRIPT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_redis_conn.h"


/*
 * The Lua script that decides admissions on the Redis server: loaded by
 * the connection's handshake, called by its SHA-1
 */
extern const ngx_str_t  ngx_http_tfa_resend_redis_script;


void ngx_http_tfa_resend_redis_take_back(
    ngx_http_tfa_resend_redis_t *rd, u_char *key, size_t len,
    uint64_t stamp, uint64_t nonce);
ngx_int_t ngx_http_tfa_resend_redis_prepare(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_SCRIPT_H_INCLUDED_ */
