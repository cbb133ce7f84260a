
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's master found through Sentinels: asked of them in
 * order, followed through failovers by +switch-master.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_SENTINEL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_redis_conn.h"


/*
 * Sentinel i and the next ones in turn are asked for the master, each
 * within redis_timeout (rd->find_master).  NGX_OK: one is being asked,
 * else none could be (conn->why says why).
 */
ngx_int_t ngx_http_tfa_resend_redis_sentinel_ask(
    ngx_http_tfa_resend_redis_t *rd, ngx_uint_t i);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_SENTINEL_H_INCLUDED_ */
