
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * store=redis-cluster://HOST:PORT[,HOST:PORT...] and rediss-cluster://:
 * the Redis store with its commands routed by the cluster
 * (ngx_http_tfa_resend_redis_cluster.c).  The keys carry the pinId as
 * their hash tag, "tfa:ZONE:{PINID}": one pinId's window is in one slot,
 * different pinIds spread over every master.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_redis_cluster.h"
#include "ngx_http_tfa_resend_redis_cluster_conf.h"


ngx_int_t
ngx_http_tfa_resend_redis_cluster_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value, ngx_str_t *url)
{
    ngx_http_tfa_resend_redis_cluster_t  *cl;

    cl = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_redis_cluster_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_cluster_parse(cf, cl, value, url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rd->cluster = cl;

    /* the log lines name the cluster by its seeds, the reason the node */

    rd->addr.len = sizeof("cluster ") - 1 + url->len;
    rd->addr.data = ngx_pnalloc(cf->pool, rd->addr.len);
    if (rd->addr.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(rd->addr.data, "cluster %V", url);

    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_redis_cluster_setup(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd)
{
    ngx_http_tfa_resend_redis_cluster_t  *cl;

    cl = rd->cluster;

    rd->prefix.len = sizeof("tfa::{") - 1 + rd->store->name.len;
    rd->prefix.data = ngx_pnalloc(cf->pool, rd->prefix.len);
    if (rd->prefix.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(rd->prefix.data, "tfa:%V:{", &rd->store->name);
    ngx_str_set(&rd->suffix, "}");

    cl->zone = &rd->store->name;
    cl->password = rd->password;
    cl->username = rd->username;
    cl->script = rd->script;
    cl->why = rd->conn.why;
    cl->timeout = rd->timeout;

#if (NGX_SSL)
    cl->ssl = rd->ssl;
    cl->ssl_name = rd->ssl_name;
    cl->ssl_verify = rd->ssl_verify;
#endif

    return NGX_OK;
}
