
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store: the same exact sliding window per pinId as the
 * shared-memory store, kept in Redis and so shared by every nginx server
 * that uses it (a fleet behind a load balancer).
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_store.h"


extern const ngx_http_tfa_resend_store_type_t  ngx_http_tfa_resend_redis_store;


/*
 * Whether a tfa_resend_limit_zone parameter is one of the store's: store=,
 * redis_timeout=, redis_password_file=, on_store_error=.
 */
ngx_uint_t ngx_http_tfa_resend_redis_param(ngx_str_t *value);

/*
 * Makes store (its shm_zone, name, limit and window set) what the store
 * parameters (an array of ngx_str_t) ask for.  NGX_DECLINED: they ask for
 * the shared-memory store (store=shm); NGX_ERROR: an [emerg] was logged.
 */
ngx_int_t ngx_http_tfa_resend_redis_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store, ngx_array_t *params);

/* closes this worker's Redis connections (the module's exit_process) */
void ngx_http_tfa_resend_redis_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_H_INCLUDED_ */
