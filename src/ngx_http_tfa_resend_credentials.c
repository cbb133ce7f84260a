
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The upstream credentials: the tfa_resend_credentials directive, which
 * loads them when the configuration is read (by the master process, so the
 * file can be 0600 root and a reload picks up a rotated one), and their
 * injection into the upstream request in place of whatever the client sent.
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
static ngx_uint_t ngx_http_tfa_resend_is_header(ngx_table_elt_t *h,
    ngx_str_t *name);


static ngx_str_t  ngx_http_tfa_resend_authorization =
    ngx_string("Authorization");
static ngx_str_t  ngx_http_tfa_resend_accept_encoding =
    ngx_string("Accept-Encoding");

/*
 * Method override headers: some frameworks take them for the method, so
 * the upstream could see another call than the POST that was checked.
 */

/*
 * Headers with which some stacks let a request say it is another method or
 * another path than the one that was checked
 */

static ngx_str_t  ngx_http_tfa_resend_method_overrides[] = {
    ngx_string("X-HTTP-Method-Override"),
    ngx_string("X-HTTP-Method"),
    ngx_string("X-Method-Override"),
    ngx_string("X-Original-URL"),
    ngx_string("X-Rewrite-URL"),
    ngx_null_string
};


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


ngx_int_t
ngx_http_tfa_resend_inject_credentials(ngx_http_request_t *r,
    ngx_str_t *credentials, ngx_http_tfa_resend_saved_t *saved)
{
    ngx_uint_t        i, j, n, dropped;
    ngx_str_t        *name;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *header, *h;

    saved->headers = r->headers_in.headers;
    saved->authorization = r->headers_in.authorization;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    saved->accept_encoding = r->headers_in.accept_encoding;
#endif
    saved->args = r->args;
    saved->valid_unparsed_uri = r->valid_unparsed_uri;
    saved->quoted_uri = r->quoted_uri;
    saved->log_level = r->connection->log->log_level;

    n = 1;

    for (part = &saved->headers.part; part; part = part->next) {
        n += part->nelts;
    }

    /* a fresh list, built in place: its "last" points into r->headers_in */

    if (ngx_list_init(&r->headers_in.headers, r->pool, n,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        r->headers_in.headers = saved->headers;
        return NGX_ERROR;
    }

    dropped = 0;

    for (part = &saved->headers.part; part; part = part->next) {
        header = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (ngx_http_tfa_resend_is_header(&header[i],
                                         &ngx_http_tfa_resend_authorization)
                || ngx_http_tfa_resend_is_header(&header[i],
                                       &ngx_http_tfa_resend_accept_encoding))
            {
                dropped++;
                continue;
            }

            name = NULL;

            for (j = 0; ngx_http_tfa_resend_method_overrides[j].len; j++) {
                if (ngx_http_tfa_resend_is_header(&header[i],
                                    &ngx_http_tfa_resend_method_overrides[j]))
                {
                    name = &ngx_http_tfa_resend_method_overrides[j];
                    break;
                }
            }

            if (name) {
                dropped++;
                continue;
            }

            h = ngx_list_push(&r->headers_in.headers);
            if (h == NULL) {
                ngx_http_tfa_resend_restore_request(r, saved);
                return NGX_ERROR;
            }

            *h = header[i];
        }
    }

    r->headers_in.authorization = NULL;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    r->headers_in.accept_encoding = NULL;
#endif

    if (credentials->len) {
        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            ngx_http_tfa_resend_restore_request(r, saved);
            return NGX_ERROR;
        }

        /* as the request parser makes it, for proxy_set_header's lookup */

        h->hash = ngx_hash_key((u_char *) "authorization",
                               sizeof("authorization") - 1);
        h->key = ngx_http_tfa_resend_authorization;
        h->value = *credentials;
        h->lowcase_key = (u_char *) "authorization";

        r->headers_in.authorization = h;
    }

    /*
     * The upstream gets the path that was checked: with no valid unparsed
     * URI, proxy_pass re-encodes r->uri (quoted_uri makes it escape what
     * needs escaping), and the query string is dropped.  A client's URI
     * that is that path byte for byte already is its encoding, and is sent
     * as it came.
     */

    if (!(r->valid_unparsed_uri
          && r->unparsed_uri.len == r->uri.len
          && ngx_memcmp(r->unparsed_uri.data, r->uri.data, r->uri.len) == 0))
    {
        r->args.len = 0;
        r->args.data = NULL;
        r->valid_unparsed_uri = 0;
        r->quoted_uri = 1;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tfa resend: upstream Authorization %s (value redacted), "
                   "%ui client Authorization/Accept-Encoding/method "
                   "override header(s) dropped",
                   credentials->len ? "set from tfa_resend_credentials"
                                    : "not set", dropped);

    /*
     * Building the upstream request logs every header it writes at debug
     * level, ours included: no debug logging until the request is restored.
     * Errors and warnings still get through.
     */

    if (saved->log_level & ~((ngx_uint_t) 0xf)) {
        r->connection->log->log_level = (saved->log_level & 0xf)
                                        ? (saved->log_level & 0xf)
                                        : NGX_LOG_INFO;
    }

    return NGX_OK;
}


void
ngx_http_tfa_resend_restore_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_saved_t *saved)
{
    r->connection->log->log_level = saved->log_level;

    r->headers_in.headers = saved->headers;
    r->headers_in.authorization = saved->authorization;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    r->headers_in.accept_encoding = saved->accept_encoding;
#endif
    r->args = saved->args;
    r->valid_unparsed_uri = saved->valid_unparsed_uri;
    r->quoted_uri = saved->quoted_uri;
}


static ngx_uint_t
ngx_http_tfa_resend_is_header(ngx_table_elt_t *h, ngx_str_t *name)
{
    return h->key.len == name->len
           && ngx_strncasecmp(h->key.data, name->data, name->len) == 0;
}
