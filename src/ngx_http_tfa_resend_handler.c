
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * Interception of "resend PIN over voice" requests.
 *
 * A precontent phase handler picks the requests of the resend shape in a
 * location with tfa_resend on, refuses what the upstream must never see
 * (another path that names /resend/voice, another method, a pinId that
 * does not match tfa_resend_pin_pattern once its case is folded, a body
 * that is not the documented JSON object), reads and checks the body
 * (like the mirror module, which reads it in the same phase), then puts a
 * wrapper in place of the location's content handler (proxy_pass): the
 * wrapper injects the configured credentials while the upstream request is
 * built, and restores the client's own request right after.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_credentials.h"
#include "ngx_http_tfa_resend_handler.h"
#include "ngx_http_tfa_resend_headers.h"
#include "ngx_http_tfa_resend_limit.h"
#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_response.h"


static ngx_int_t ngx_http_tfa_resend_precontent_handler(
    ngx_http_request_t *r);
static const char *ngx_http_tfa_resend_near_miss(ngx_http_request_t *r,
    ngx_http_tfa_resend_path_e class, ngx_http_tfa_resend_path_t *m);
static ngx_int_t ngx_http_tfa_resend_set_uri(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_http_tfa_resend_path_t *m);
static ngx_int_t ngx_http_tfa_resend_redirected(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx);
static void ngx_http_tfa_resend_wrap_content_handler(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx);
static void ngx_http_tfa_resend_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_tfa_resend_check_request_body(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_tfa_resend_body_data(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_uint_t ngx_http_tfa_resend_is_json(ngx_http_request_t *r);
static ngx_int_t ngx_http_tfa_resend_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *message_id, const char *text);
static ngx_int_t ngx_http_tfa_resend_content_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_tfa_resend_create_request(ngx_http_request_t *r);
static void ngx_http_tfa_resend_pattern_cleanup(void *data);
static ngx_int_t ngx_http_tfa_resend_add_pattern_cleanup(ngx_conf_t *cf,
    ngx_http_tfa_resend_pattern_t *p);


ngx_conf_enum_t  ngx_http_tfa_resend_pin_cases[] = {
    { ngx_string("upper"), NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER },
    { ngx_string("lower"), NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER },
    { ngx_string("off"), NGX_HTTP_TFA_RESEND_PIN_CASE_OFF },
    { ngx_null_string, 0 }
};


static ngx_int_t
ngx_http_tfa_resend_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_uint_t                       valid;
    const char                      *reason;
    ngx_table_elt_t                 *h;
    ngx_http_tfa_resend_ctx_t       *ctx;
    ngx_http_tfa_resend_path_e       class;
    ngx_http_tfa_resend_path_t       m;
    ngx_http_tfa_resend_loc_conf_t  *lcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx) {
        if (ctx->redirected) {
            return ngx_http_tfa_resend_redirected(r, ctx);
        }

        /* the phases run again once the body is in */

        if (ctx->phase_rc == NGX_DONE || ctx->phase_rc == NGX_DECLINED) {
            return ctx->phase_rc;
        }

        /* made elsewhere (the filter): never let it skip the checks */

        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tfa_resend: request state made before the checks");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    if (!lcf->enable) {
        return NGX_DECLINED;
    }

    /*
     * The resend's shape at the end of the URI, behind whatever prefix a
     * location mount or a rewrite put there.  Anything else that names
     * /resend/voice is refused: an upstream router that ignores case or
     * trailing slashes could take it for the resend, unchecked.
     */

    class = ngx_http_tfa_resend_match_path(r->uri.data, r->uri.len, &m);

    if (class != NGX_HTTP_TFA_RESEND_PATH_EXACT) {
        reason = ngx_http_tfa_resend_near_miss(r, class, &m);

        if (reason == NULL) {
            return NGX_DECLINED;
        }

        ctx = ngx_http_tfa_resend_create_ctx(r, lcf, NULL, 0);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->phase_rc = NGX_DONE;

        return ngx_http_tfa_resend_refuse(r, NGX_HTTP_BAD_REQUEST,
                                          "BAD_REQUEST", reason);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tfa_resend: intercepting \"%V\"", &r->uri);

    ctx = ngx_http_tfa_resend_create_ctx(r, lcf, r->uri.data + m.pin_off,
                                         m.pin_len);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->phase_rc = NGX_DONE;

    if (ngx_http_tfa_resend_set_uri(r, ctx, &m) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    valid = (ctx->pin_id.len != 0);

    if (r->method != NGX_HTTP_POST) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "POST");

        return ngx_http_tfa_resend_refuse(r, NGX_HTTP_NOT_ALLOWED,
                                          "METHOD_NOT_ALLOWED",
                                          "only POST is allowed");
    }

    if (!valid) {
        return ngx_http_tfa_resend_refuse(r, NGX_HTTP_BAD_REQUEST,
                                          "BAD_REQUEST", "invalid pinId");
    }

    /* a resend body is small: a large one is not worth parsing */

    if (r->headers_in.content_length_n > (off_t) lcf->max_body_size) {
        return ngx_http_tfa_resend_refuse(r,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          NULL, "body is larger than "
                                          "tfa_resend_max_body_size");
    }

    /* a chunked body is checked once read, when its length is known */

    if (r->headers_in.content_length_n > 0 && !ngx_http_tfa_resend_is_json(r))
    {
        return ngx_http_tfa_resend_refuse(r,
                                          NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                          "UNSUPPORTED_MEDIA_TYPE",
                                          "body must be application/json");
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_tfa_resend_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* an error_page location may see it: the refusal is remembered */
        ctx->phase_rc = rc;
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


/*
 * A URI that is not of the resend's shape: the reason to refuse it, or
 * NULL to leave it alone.  The client's own path counts too (what it sent
 * before nginx decoded and merged it, or a rewrite replaced it): nginx's
 * normalizing hides some spellings ("/resend/voice/.."), decoding shows
 * others ("/resend%2Fvoice").
 */

static const char *
ngx_http_tfa_resend_near_miss(ngx_http_request_t *r,
    ngx_http_tfa_resend_path_e class, ngx_http_tfa_resend_path_t *m)
{
    u_char                      *q;
    size_t                       len;
    ngx_http_tfa_resend_path_t   raw;

    if (class == NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS) {
        return m->reason;
    }

    len = r->unparsed_uri.len;

    q = len ? ngx_strlchr(r->unparsed_uri.data, r->unparsed_uri.data + len,
                          '?')
            : NULL;

    if (q) {
        len = q - r->unparsed_uri.data;
    }

    switch (ngx_http_tfa_resend_match_path(r->unparsed_uri.data, len, &raw)) {

    case NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS:
        return raw.reason;

    case NGX_HTTP_TFA_RESEND_PATH_EXACT:
        return "not a resend path once normalized: "
               "/2fa/{1|2}/pin/{pinId}/resend/voice expected";

    default:
        return NULL;
    }
}


/*
 * The URI the upstream request is built from: r->uri with the folded
 * pinId, in a copy of the request's own (r->uri.data may point into the
 * client's header buffer); r->uri itself when folding changed nothing.
 */

static ngx_int_t
ngx_http_tfa_resend_set_uri(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx, ngx_http_tfa_resend_path_t *m)
{
    u_char  *p;

    ctx->uri = r->uri;

    if (ctx->pin_id.len != m->pin_len
        || ngx_memcmp(ctx->pin_id.data, r->uri.data + m->pin_off, m->pin_len)
           == 0)
    {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, r->uri.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, r->uri.data, r->uri.len);
    ngx_memcpy(p + m->pin_off, ctx->pin_id.data, m->pin_len);

    ctx->uri.data = p;

    return NGX_OK;
}


static void
ngx_http_tfa_resend_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r);

    rc = ngx_http_tfa_resend_check_request_body(r);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* limiter: admit here */

    rc = ngx_http_tfa_resend_limit_request(r, ctx);

    if (rc == NGX_AGAIN) {
        /* a remote store: the limiter calls this handler again */
        return;
    }

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /*
     * The location's content handler (proxy_pass) runs inside a wrapper
     * that gives it the configured credentials.  A location that passes
     * nothing on (no content handler) needs none.
     */

    ngx_http_tfa_resend_wrap_content_handler(r, ctx);

    ctx->phase_rc = NGX_DECLINED;

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * The resend came to another location by an internal redirect (error_page,
 * try_files, a named location): it was checked and admitted already, and
 * is not again.  Its upstream request, if this location makes one, is
 * built as in the first (credentials only if this location sends them).
 */

static ngx_int_t
ngx_http_tfa_resend_redirected(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx)
{
    ctx->redirected = 0;

    if (ctx->phase_rc == NGX_DECLINED) {
        ngx_http_tfa_resend_wrap_content_handler(r, ctx);
        return NGX_DECLINED;
    }

    /*
     * Refused before it was admitted (a body nginx would not read): an
     * error page may answer, but nothing is passed on.
     */

    if (r->content_handler) {
        return ctx->phase_rc >= NGX_HTTP_SPECIAL_RESPONSE
               ? ctx->phase_rc : NGX_HTTP_BAD_REQUEST;
    }

    return NGX_DECLINED;
}


/*
 * The location's content handler (proxy_pass) runs inside a wrapper that
 * builds the upstream request from the resend's headers only.  A location
 * that passes nothing on (no content handler) is left as it is.
 */

static void
ngx_http_tfa_resend_wrap_content_handler(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx)
{
    ctx->content_handler = NULL;
    ctx->create_request = NULL;
    ctx->upstream = NULL;

    if (r->content_handler
        && r->content_handler != ngx_http_tfa_resend_content_handler)
    {
        ctx->content_handler = r->content_handler;
        r->content_handler = ngx_http_tfa_resend_content_handler;
    }
}


/*
 * Returns NGX_DECLINED for a valid body, else what the refusal returned
 * (the request then ends with it).
 */

static ngx_int_t
ngx_http_tfa_resend_check_request_body(ngx_http_request_t *r)
{
    char                             reason[64];
    ngx_str_t                        body;
    ngx_http_tfa_resend_loc_conf_t  *lcf;

    if (ngx_http_tfa_resend_body_data(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body.len == 0) {
        return NGX_DECLINED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    if (body.len > lcf->max_body_size) {
        return ngx_http_tfa_resend_send_error(r,
                                      NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      NULL, "body is larger than "
                                      "tfa_resend_max_body_size");
    }

    if (!ngx_http_tfa_resend_is_json(r)) {
        return ngx_http_tfa_resend_send_error(r,
                                              NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                              "UNSUPPORTED_MEDIA_TYPE",
                                              "body must be application/json");
    }

    if (ngx_http_tfa_resend_check_body(body.data, body.len, reason,
                                       sizeof(reason))
        != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tfa_resend: invalid request body: %s", reason);

        return ngx_http_tfa_resend_send_error(r, NGX_HTTP_BAD_REQUEST,
                                              "BAD_REQUEST", reason);
    }

    return NGX_DECLINED;
}


/*
 * The whole body in one piece: the buffer itself when it is one buffer in
 * memory, else a copy made from the buffers in memory and the parts
 * written to the temporary file (a body larger than
 * client_body_buffer_size).  Its size is bounded by client_max_body_size.
 */

static ngx_int_t
ngx_http_tfa_resend_body_data(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    if (len == 0) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {

            /* an empty buffer (a chunked body's last one) may have no data */

            if (b->last != b->pos) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

            continue;
        }

        size = (size_t) (b->file_last - b->file_pos);

        n = ngx_read_file(b->file, p, size, b->file_pos);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if ((size_t) n != size) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "tfa_resend: " ngx_read_file_n
                          " read only %z of %uz from \"%V\"",
                          n, size, &b->file->name);
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


/* "application/json", in any case, with or without parameters */

static ngx_uint_t
ngx_http_tfa_resend_is_json(ngx_http_request_t *r)
{
    u_char  *p, *last;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    if ((size_t) (last - p) < sizeof("application/json") - 1
        || ngx_strncasecmp(p, (u_char *) "application/json",
                           sizeof("application/json") - 1)
           != 0)
    {
        return 0;
    }

    for (p += sizeof("application/json") - 1; p < last; p++) {
        if (*p != ' ' && *p != '\t') {
            break;
        }
    }

    return p == last || *p == ';';
}


/* a refusal made before the body is read: the request ends here */

static ngx_int_t
ngx_http_tfa_resend_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *message_id, const char *text)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "tfa_resend: refused with %ui: %s", status, text);

    ngx_http_finalize_request(r,
                     ngx_http_tfa_resend_send_error(r, status, message_id,
                                                    text));
    return NGX_DONE;
}


/*
 * In place of the location's content handler.  With the body read already,
 * proxy_pass builds the upstream request before it returns; if it could
 * not (a cache lock), the upstream's create_request is wrapped instead.
 */

static ngx_int_t
ngx_http_tfa_resend_content_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        uri;
    ngx_http_upstream_t             *u;
    ngx_http_tfa_resend_ctx_t       *ctx;
    ngx_http_tfa_resend_saved_t      saved;
    ngx_http_tfa_resend_loc_conf_t  *lcf;

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx == NULL || ctx->content_handler == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    /* proxy_pass builds the upstream's path from the folded pinId */

    uri = r->uri;
    r->uri = ctx->uri;

    if (ngx_http_tfa_resend_swap_request(r, lcf,
                                   lcf->inject ? &lcf->credentials : NULL,
                                   &saved)
        != NGX_OK)
    {
        r->uri = uri;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* forwarded now: the upstream's time runs from here */

    ctx->forwarded_at = ngx_http_tfa_resend_metrics_clock();

    rc = ctx->content_handler(r);

    ngx_http_tfa_resend_restore_request(r, &saved);

    r->uri = uri;

    u = r->upstream;
    ctx->upstream = u;

    if (u && u->request_bufs == NULL && u->create_request
        && ctx->create_request == NULL)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "tfa_resend: upstream request deferred");

        ctx->create_request = u->create_request;
        u->create_request = ngx_http_tfa_resend_create_request;
    }

    return rc;
}


static ngx_int_t
ngx_http_tfa_resend_create_request(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        uri;
    ngx_http_tfa_resend_ctx_t       *ctx;
    ngx_http_tfa_resend_saved_t      saved;
    ngx_http_tfa_resend_loc_conf_t  *lcf;

    ctx = ngx_http_tfa_resend_get_ctx(r);

    if (ctx == NULL || ctx->create_request == NULL) {
        return NGX_ERROR;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_tfa_resend_module);

    uri = r->uri;
    r->uri = ctx->uri;

    if (ngx_http_tfa_resend_swap_request(r, lcf,
                                   lcf->inject ? &lcf->credentials : NULL,
                                   &saved)
        != NGX_OK)
    {
        r->uri = uri;
        return NGX_ERROR;
    }

    rc = ctx->create_request(r);

    ngx_http_tfa_resend_restore_request(r, &saved);

    r->uri = uri;

    return rc;
}


char *
ngx_http_tfa_resend_pin_pattern(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tfa_resend_loc_conf_t  *lcf = conf;

    char                            err[256];
    ngx_str_t                      *value;
    ngx_http_tfa_resend_pattern_t  *p;

    if (lcf->pin_pattern != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = ngx_http_tfa_resend_pattern_compile(value[1].data, value[1].len,
                                            err, sizeof(err));
    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tfa_resend_pin_pattern: %s", err);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_tfa_resend_add_pattern_cleanup(cf, p) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lcf->pin_pattern = p;

    return NGX_CONF_OK;
}


char *
ngx_http_tfa_resend_merge_intercept_conf(ngx_conf_t *cf,
    ngx_http_tfa_resend_loc_conf_t *prev,
    ngx_http_tfa_resend_loc_conf_t *conf)
{
    char                              err[256];
    ngx_http_tfa_resend_pattern_t    *p;
    ngx_http_tfa_resend_main_conf_t  *mcf;

    ngx_conf_merge_ptr_value(conf->pin_pattern, prev->pin_pattern, NULL);
    ngx_conf_merge_uint_value(conf->pin_case, prev->pin_case,
                              NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER);
    ngx_conf_merge_ptr_value(conf->pass_headers, prev->pass_headers, NULL);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              16 * 1024);

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tfa_resend_module);

    if (!mcf->used) {
        return NGX_CONF_OK;
    }

    if (conf->pin_pattern == NULL) {

        /* the default pattern, compiled once for the whole configuration */

        if (mcf->default_pattern == NULL) {
            p = ngx_http_tfa_resend_pattern_compile(
                    (u_char *) NGX_HTTP_TFA_RESEND_PIN_PATTERN,
                    sizeof(NGX_HTTP_TFA_RESEND_PIN_PATTERN) - 1,
                    err, sizeof(err));
            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
                return NGX_CONF_ERROR;
            }

            if (ngx_http_tfa_resend_add_pattern_cleanup(cf, p) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            mcf->default_pattern = p;
        }

        conf->pin_pattern = mcf->default_pattern;
    }

    return ngx_http_tfa_resend_merge_credentials(cf, prev, conf);
}


static ngx_int_t
ngx_http_tfa_resend_add_pattern_cleanup(ngx_conf_t *cf,
    ngx_http_tfa_resend_pattern_t *p)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_http_tfa_resend_pattern_free(p);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_tfa_resend_pattern_cleanup;
    cln->data = p;

    return NGX_OK;
}


static void
ngx_http_tfa_resend_pattern_cleanup(void *data)
{
    ngx_http_tfa_resend_pattern_free(data);
}


ngx_int_t
ngx_http_tfa_resend_handler_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_tfa_resend_precontent_handler;

    return NGX_OK;
}
