
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


/* the parameters of tfa_resend_limit_zone that are the Redis store's */
extern char  *ngx_http_tfa_resend_redis_params[];


/*
 * The create of the Redis kinds (ngx_http_tfa_resend_store_kind_t): url is
 * the store=redis://HOST:PORT[/DB] or store=rediss://... parameter, params
 * those of ngx_http_tfa_resend_redis_params[] given.
 */
ngx_int_t ngx_http_tfa_resend_redis_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store, ngx_str_t *url, ngx_array_t *params);

/* closes this worker's connection of the zone (the kind's exit hook) */
void ngx_http_tfa_resend_redis_exit_process(
    ngx_http_tfa_resend_store_t *store);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_H_INCLUDED_ */
