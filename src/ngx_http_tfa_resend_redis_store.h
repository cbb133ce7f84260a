
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's operations: admit, refund and inspect on a zone's
 * sorted sets in Redis, the batching of admissions into script calls, and
 * their answers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_STORE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_store.h"
#include "ngx_http_tfa_resend_redis_conn.h"


extern const ngx_http_tfa_resend_store_type_t  ngx_http_tfa_resend_redis_store;


/*
 * The worker exits, or the configuration this store belongs to is freed:
 * the connection goes without resuming anything.
 */
void ngx_http_tfa_resend_redis_close(ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_STORE_H_INCLUDED_ */
