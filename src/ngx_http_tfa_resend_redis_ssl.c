
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's TLS: the SSL context of rediss:// and
 * rediss-sentinel://, its certificates and CA bundle, read when the
 * configuration is read.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_conf.h"
#include "ngx_http_tfa_resend_redis_conn.h"
#include "ngx_http_tfa_resend_redis_ssl.h"


static ngx_int_t ngx_http_tfa_resend_redis_ssl_file(ngx_conf_t *cf,
    ngx_str_t *value, ngx_str_t *path);


/*
 * rediss://: nginx's TLS client, set up now as proxy_ssl_* would be.  The
 * certificate is verified by default, against the system's CA bundle or
 * redis_ssl_trusted_certificate=, for the host of the URL or
 * redis_ssl_name= (an IP address is checked against the certificate's IP
 * addresses, and sent without SNI).
 */

ngx_int_t
ngx_http_tfa_resend_redis_ssl(ngx_conf_t *cf, ngx_http_tfa_resend_redis_t *rd,
    ngx_str_t *url, ngx_str_t **given)
{
    ngx_str_t            s, cert, key, ca;
    ngx_uint_t           i;
    ngx_pool_cleanup_t  *cln;

    if (!rd->tls) {
        for (i = 0; i < NGX_HTTP_TFA_RESEND_REDIS_SSL_PARAMS; i++) {
            if (given[i]) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\": only with "
                                   "store=rediss:// or "
                                   "store=rediss-sentinel://", given[i]);
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

#if !(NGX_SSL)

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid store \"%V\": this nginx has no TLS", url);
    return NGX_ERROR;

#else

    rd->ssl_verify = 1;

    if (given[0]) {
        (void) ngx_http_tfa_resend_conf_param(given[0], "redis_ssl_verify=",
                                              &s);

        if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
            rd->ssl_verify = 0;

        } else if (s.len != 2 || ngx_strncmp(s.data, "on", 2) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": use redis_ssl_verify=on or "
                               "off", given[0]);
            return NGX_ERROR;
        }
    }

    rd->ssl_name = rd->host;

    if (rd->master_name.len || rd->cluster) {
        /* by default the name of each node it connects to */
        ngx_str_null(&rd->ssl_name);
    }

    if (given[2]) {
        (void) ngx_http_tfa_resend_conf_param(given[2], "redis_ssl_name=",
                                              &rd->ssl_name);

        if (rd->ssl_name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": no name", given[2]);
            return NGX_ERROR;
        }
    }

    /* NUL-terminated, for SNI; an IP address in brackets goes without */

    if (rd->ssl_name.len == 0) {
        goto ctx;
    }

    if (rd->ssl_name.len > 2 && rd->ssl_name.data[0] == '[') {
        rd->ssl_name.data++;
        rd->ssl_name.len -= 2;
    }

    s.data = ngx_pnalloc(cf->pool, rd->ssl_name.len + 1);
    if (s.data == NULL) {
        return NGX_ERROR;
    }

    s.len = rd->ssl_name.len;
    *ngx_cpymem(s.data, rd->ssl_name.data, s.len) = '\0';
    rd->ssl_name = s;

ctx:

    if (!rd->ssl_verify && given[1]) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" with redis_ssl_verify=off", given[1]);
        return NGX_ERROR;
    }

    if ((given[3] == NULL) != (given[4] == NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs %s", given[3] ? given[3] : given[4],
                           given[3] ? "redis_ssl_certificate_key="
                                    : "redis_ssl_certificate=");
        return NGX_ERROR;
    }

    rd->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (rd->ssl == NULL) {
        return NGX_ERROR;
    }

    rd->ssl->log = cf->log;

    if (ngx_ssl_create(rd->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(rd->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = rd->ssl;

    /* a write that could not finish is retried from a buffer that grew */

    SSL_CTX_set_mode(rd->ssl->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (given[3]) {
        if (ngx_http_tfa_resend_redis_ssl_file(cf, given[3], &cert) != NGX_OK
            || ngx_http_tfa_resend_redis_ssl_file(cf, given[4], &key)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_ssl_certificate(cf, rd->ssl, &cert, &key, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (!rd->ssl_verify) {
        return NGX_OK;
    }

    if (given[1]) {
        if (ngx_http_tfa_resend_redis_ssl_file(cf, given[1], &ca) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        ngx_str_null(&ca);
    }

    if (ngx_ssl_trusted_certificate(cf, rd->ssl, &ca, 9) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ca.len == 0 && SSL_CTX_set_default_verify_paths(rd->ssl->ctx) != 1) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "store \"%V\": the system's CA certificates could not "
                      "be loaded, use redis_ssl_trusted_certificate=", url);
        return NGX_ERROR;
    }

    return NGX_OK;

#endif
}


/* a file name of a redis_ssl_*= parameter, from the configuration prefix */

static ngx_int_t
ngx_http_tfa_resend_redis_ssl_file(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *path)
{
    u_char  *eq;

    eq = ngx_strlchr(value->data, value->data + value->len, '=');

    path->data = eq + 1;
    path->len = value->data + value->len - path->data;

    if (path->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": no file name", value);
        return NGX_ERROR;
    }

    return ngx_conf_full_name(cf->cycle, path, 1);
}
