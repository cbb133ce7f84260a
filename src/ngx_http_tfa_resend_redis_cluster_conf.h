
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * store=redis-cluster:// and store=rediss-cluster://, read when the
 * configuration is read: the seeds, and the Redis store's settings handed
 * to the cluster's links.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_CONF_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_redis_conn.h"


/*
 * value: the store= parameter; url: what follows its scheme.  rd->tls is
 * set by the caller.  NGX_ERROR: logged ([emerg]).
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value, ngx_str_t *url);

/*
 * Once the store's parameters are read: the keys "tfa:ZONE:{PINID}", and
 * the password, user, TLS and timeout of every node's link
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_setup(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_CONF_H_INCLUDED_ */
