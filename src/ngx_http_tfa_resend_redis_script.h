
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
 * Takes back one admission of the key (member "stamp-nonce") by the refund
 * script; nothing waits for the answer, and with no connection nothing is
 * sent
 */
void ngx_http_tfa_resend_redis_take_back(
    ngx_http_tfa_resend_redis_t *rd, u_char *key, size_t len,
    uint64_t stamp, uint64_t nonce);

/*
 * When the configuration is read: rd->script (the admission script, which
 * the connection's handshake loads and the store calls by its SHA-1),
 * rd->sha, rd->prefix ("tfa:ZONE:") and rd->argv (N and the window, as
 * the script's arguments in the protocol's form)
 */
ngx_int_t ngx_http_tfa_resend_redis_prepare(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_SCRIPT_H_INCLUDED_ */
