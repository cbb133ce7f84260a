
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The upstream credentials: the tfa_resend_credentials directive, which
 * loads them when the configuration is read (by the master process, so the
 * file can be 0600 root and a reload picks up a rotated one), and where
 * they may go: only from a location that names the module itself.  Their
 * injection into the upstream request is in ngx_http_tfa_resend_headers.c.
 *
 * The secret is never logged: configuration errors name the file or the
 * variable only, and debug logging is off while the upstream request that
 * carries it is being built.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_conf.h"
#include "ngx_http_tfa_resend_credentials.h"


/* a line of "username:password" or an API key is far shorter than this */
#define NGX_HTTP_TFA_RESEND_SECRET_MAX  4096

#define NGX_HTTP_TFA_RESEND_FROM_INLINE  0
#define NGX_HTTP_TFA_RESEND_FROM_FILE    1
#define NGX_HTTP_TFA_RESEND_FROM_ENV     2


static ngx_int_t ngx_http_tfa_resend_read_secret_env(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *text);
static ngx_int_t ngx_http_tfa_resend_upstream_verifies(ngx_conf_t *cf);


char *
ngx_http_tfa_resend_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tfa_resend_loc_conf_t  *lcf = conf;

    char        reason[128];
    u_char     *buf, *p;
    size_t      len, n;
    ngx_str_t  *value, name, text, src, dst;
    ngx_int_t   rc;
    ngx_uint_t  basic, from;

    if (lcf->credentials.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 5 && ngx_strncmp(value[1].data, "basic", 5) == 0) {
        basic = 1;

    } else if (value[1].len == 3 && ngx_strncmp(value[1].data, "app", 3) == 0)
    {
        basic = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tfa_resend_credentials scheme \"%V\": "
                           "expected \"basic\" or \"app\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    from = NGX_HTTP_TFA_RESEND_FROM_INLINE;
    ngx_str_null(&name);

    if (ngx_http_tfa_resend_conf_param(&value[2], "file=", &name)) {

        from = NGX_HTTP_TFA_RESEND_FROM_FILE;

        if (name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty file name in tfa_resend_credentials");
            return NGX_CONF_ERROR;
        }

        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        buf = ngx_pnalloc(cf->temp_pool, NGX_HTTP_TFA_RESEND_SECRET_MAX + 1);
        if (buf == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_http_tfa_resend_conf_read_secret(cf, &name,
                 "tfa_resend_credentials", "credentials file", buf,
                 NGX_HTTP_TFA_RESEND_SECRET_MAX, &len);

        text.data = buf;
        text.len = len;

    } else if (ngx_http_tfa_resend_conf_param(&value[2], "env=", &name)) {

        from = NGX_HTTP_TFA_RESEND_FROM_ENV;

        if (name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty variable name in "
                               "tfa_resend_credentials");
            return NGX_CONF_ERROR;
        }

        rc = ngx_http_tfa_resend_read_secret_env(cf, &name, &text);

    } else {
        /* inline: for tests only, as "nginx -T" shows it */
        text = value[2];
        rc = NGX_OK;
    }

    if (rc != NGX_OK) {
        goto failed;
    }

    if (ngx_http_tfa_resend_parse_secret(text.data, text.len, basic, &n,
                                         reason, sizeof(reason))
        != 0)
    {
        if (from == NGX_HTTP_TFA_RESEND_FROM_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid credentials in file \"%V\": %s",
                               &name, reason);

        } else if (from == NGX_HTTP_TFA_RESEND_FROM_ENV) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid credentials in environment "
                               "variable \"%V\": %s", &name, reason);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid inline tfa_resend_credentials: %s",
                               reason);
        }

        goto failed;
    }

    /* the header value: "Basic base64(username:password)" or "App key" */

    if (basic) {
        len = sizeof("Basic ") - 1 + ngx_base64_encoded_length(n);

    } else {
        len = sizeof("App ") - 1 + n;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        goto failed;
    }

    lcf->credentials.data = p;

    if (basic) {
        p = ngx_cpymem(p, "Basic ", sizeof("Basic ") - 1);

        src.len = n;
        src.data = text.data;
        dst.data = p;

        ngx_encode_base64(&dst, &src);

        lcf->credentials.len = sizeof("Basic ") - 1 + dst.len;

    } else {
        p = ngx_cpymem(p, "App ", sizeof("App ") - 1);
        p = ngx_cpymem(p, text.data, n);

        lcf->credentials.len = p - lcf->credentials.data;
    }

    if (buf) {
        ngx_explicit_memzero(buf, NGX_HTTP_TFA_RESEND_SECRET_MAX + 1);
    }

    return NGX_CONF_OK;

failed:

    if (buf) {
        ngx_explicit_memzero(buf, NGX_HTTP_TFA_RESEND_SECRET_MAX + 1);
    }

    return NGX_CONF_ERROR;
}



/*
 * nginx passes to its workers only the variables named by "env" in the
 * main context (and a single-process nginx clears the rest from its own
 * environment after start-up), so the variable must be declared there,
 * either as "env NAME;" or as "env NAME=value;".
 */

static ngx_int_t
ngx_http_tfa_resend_read_secret_env(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *text)
{
    char             *p;
    ngx_str_t        *var;
    ngx_uint_t        i;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    var = ccf->env.elts;

    for (i = 0; i < ccf->env.nelts; i++) {

        /* "env NAME=value;" is kept as "NAME", followed by "=value" */

        if (var[i].len != name->len
            || ngx_strncmp(var[i].data, name->data, name->len) != 0)
        {
            continue;
        }

        if (var[i].data[name->len] == '=') {
            p = (char *) var[i].data + name->len + 1;

        } else {
            p = getenv((char *) name->data);

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "environment variable \"%V\" for "
                                   "tfa_resend_credentials is not set",
                                   name);
                return NGX_ERROR;
            }
        }

        text->data = (u_char *) p;
        text->len = ngx_strlen(p);

        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "environment variable \"%V\" for "
                       "tfa_resend_credentials is not passed to nginx: "
                       "add \"env %V;\" to the main context, before \"http\"",
                       name, name);

    return NGX_ERROR;
}


/*
 * Which locations send the credentials.  "tfa_resend on" at the http or
 * server level reaches every location below, proxies to other services
 * included; the secret goes only from a location whose own block (an "if"
 * or "limit_except" inside it counts as the block) has "tfa_resend on" or
 * tfa_resend_credentials.  An inheriting location still checks, limits and
 * answers resends, and forwards them without credentials: nginx -t says so.
 */

char *
ngx_http_tfa_resend_merge_credentials(ngx_conf_t *cf,
    ngx_http_tfa_resend_loc_conf_t *prev,
    ngx_http_tfa_resend_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->credentials.data == NULL) {
        conf->credentials = prev->credentials;
    }

    conf->own = conf->own || (clcf->noname && prev->own);
    conf->inject = conf->own && conf->enable == 1
                   && conf->credentials.data != NULL;

    /*
     * Merging runs for the server level too, and for locations that pass
     * nothing on: only a location that has tfa_resend on and a content
     * handler of its own (proxy_pass ...) is concerned.
     */

    if (conf->enable != 1 || clcf->handler == NULL) {
        return NGX_CONF_OK;
    }

    if (!conf->own) {

        /* once per location: its "if" blocks inherit the same */

        if (!(clcf->noname && prev->enable == 1)) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "tfa_resend: location \"%V\" only inherits "
                               "\"tfa_resend on\": its resends are forwarded "
                               "without credentials; put \"tfa_resend on\" "
                               "in the location to send them", &clcf->name);
        }

        return NGX_CONF_OK;
    }

    if (conf->credentials.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no credentials for tfa_resend in location "
                           "\"%V\": add tfa_resend_credentials",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (!(clcf->noname && prev->inject)
        && ngx_http_tfa_resend_upstream_verifies(cf) == 0)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "tfa_resend: location \"%V\" sends the "
                           "credentials to an https upstream whose "
                           "certificate is not verified: add "
                           "\"proxy_ssl_verify on;\" and "
                           "\"proxy_ssl_trusted_certificate\"",
                           &clcf->name);
    }

    return NGX_CONF_OK;
}


/*
 * 1 when the location's proxy_pass goes to https with proxy_ssl_verify on,
 * 0 when to https without it, -1 when not to https.  The proxy module's
 * configuration begins with its ngx_http_upstream_conf_t; the module is
 * found by its name, so that an nginx built without it still loads this
 * one.
 */

static ngx_int_t
ngx_http_tfa_resend_upstream_verifies(ngx_conf_t *cf)
{
#if (NGX_HTTP_SSL)
    ngx_uint_t                 i;
    ngx_module_t              *m;
    ngx_http_conf_ctx_t       *ctx;
    ngx_http_upstream_conf_t  *ucf;

    ctx = cf->ctx;

    for (i = 0; cf->cycle->modules[i]; i++) {
        m = cf->cycle->modules[i];

        if (m->type != NGX_HTTP_MODULE
            || ngx_strcmp(m->name, "ngx_http_proxy_module") != 0)
        {
            continue;
        }

        ucf = ctx->loc_conf[m->ctx_index];

        if (ucf == NULL || ucf->ssl == NULL || ucf->ssl->ctx == NULL) {
            return -1;
        }

        return ucf->ssl_verify == 1;
    }
#endif

    return -1;
}
