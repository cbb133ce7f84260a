
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The headers of an intercepted resend, both ways.
 *
 * Upstream: the request proxy_pass builds carries what Infobip needs and
 * nothing else the client sent (a gateway's clients authenticate to it with
 * Cookie, Proxy-Authorization or an API key header, which are not for a
 * third party), plus the configured credentials.  The request is changed
 * only while the upstream request is built; then the client's own view of
 * it comes back, the variables nginx cached meanwhile included, so that no
 * log, add_header or map ever shows the credentials.
 *
 * Downstream: the client gets the canonical answer with the gateway's own
 * headers, never the upstream's Location, Set-Cookie, WWW-Authenticate ...
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_headers.h"


#define NGX_HTTP_TFA_RESEND_VAR_OTHER       0
#define NGX_HTTP_TFA_RESEND_VAR_HEADER      1
#define NGX_HTTP_TFA_RESEND_VAR_USER        2
#define NGX_HTTP_TFA_RESEND_VAR_REQUEST_ID  3


static ngx_uint_t ngx_http_tfa_resend_is_header(ngx_str_t *key,
    ngx_str_t *name);
static ngx_uint_t ngx_http_tfa_resend_keep_header(ngx_table_elt_t *h,
    ngx_http_tfa_resend_loc_conf_t *lcf, ngx_uint_t body);
static ngx_uint_t ngx_http_tfa_resend_has_body(ngx_http_request_t *r);
static u_char *ngx_http_tfa_resend_variable_kinds(ngx_http_request_t *r);
static ngx_uint_t ngx_http_tfa_resend_variable_kind(ngx_str_t *name);
static ngx_int_t ngx_http_tfa_resend_push_header(ngx_http_request_t *r,
    const char *key, const char *lowcase, ngx_str_t *value,
    ngx_table_elt_t **h);


/* the client's headers that go on: the body's and the caller's names */

static ngx_str_t  ngx_http_tfa_resend_kept_headers[] = {
    ngx_string("Host"),
    ngx_string("Content-Length"),
    ngx_string("User-Agent"),
    ngx_null_string
};


/* never passed on: what tfa_resend_pass_header refuses, and why */

static struct {
    ngx_str_t     name;
    const char   *reason;
} ngx_http_tfa_resend_refused_headers[] = {

    { ngx_string("Authorization"), "it carries credentials" },
    { ngx_string("Proxy-Authorization"), "it carries credentials" },
    { ngx_string("Cookie"), "it carries credentials" },
    { ngx_string("Accept"), "the module sends its own" },
    { ngx_string("Accept-Encoding"),
      "the answer is read as sent, never compressed" },

    /* with these some stacks take the request for another method or path */
    { ngx_string("X-HTTP-Method-Override"), "it may change the method" },
    { ngx_string("X-HTTP-Method"), "it may change the method" },
    { ngx_string("X-Method-Override"), "it may change the method" },
    { ngx_string("X-Original-URL"), "it may change the path" },
    { ngx_string("X-Rewrite-URL"), "it may change the path" },

    { ngx_null_string, NULL }
};


/* the upstream's answer: what of its headers reaches the client */

static ngx_str_t  ngx_http_tfa_resend_date = ngx_string("Date");
static ngx_str_t  ngx_http_tfa_resend_server = ngx_string("Server");
static ngx_str_t  ngx_http_tfa_resend_retry_after = ngx_string("Retry-After");


static ngx_str_t  ngx_http_tfa_resend_content_type = ngx_string("Content-Type");
static ngx_str_t  ngx_http_tfa_resend_json = ngx_string("application/json");


ngx_int_t
ngx_http_tfa_resend_swap_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_loc_conf_t *lcf, ngx_str_t *credentials,
    ngx_http_tfa_resend_saved_t *saved)
{
    u_char                     *kind;
    ngx_uint_t                  i, n, body, dropped;
    ngx_list_part_t            *part;
    ngx_table_elt_t            *header, *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    kind = ngx_http_tfa_resend_variable_kinds(r);
    if (kind == NULL) {
        return NGX_ERROR;
    }

    /*
     * $remote_user is the client's throughout: read now, from the client's
     * Authorization, it stays cached while ours is in place.
     */

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (kind[i] == NGX_HTTP_TFA_RESEND_VAR_USER) {
            (void) ngx_http_get_indexed_variable(r, i);
        }
    }

    saved->headers = r->headers_in.headers;
    saved->authorization = r->headers_in.authorization;
    saved->content_type = r->headers_in.content_type;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    saved->accept_encoding = r->headers_in.accept_encoding;
#endif
#if (NGX_HTTP_HEADERS)
    saved->accept = r->headers_in.accept;
#endif
    saved->user = r->headers_in.user;
    saved->passwd = r->headers_in.passwd;
    saved->args = r->args;
    saved->valid_unparsed_uri = r->valid_unparsed_uri;
    saved->quoted_uri = r->quoted_uri;
    saved->log_level = r->connection->log->log_level;

    /*
     * The variable cache as it is: nginx keeps a header variable's value
     * once read, so one read now would show the credentials from then on.
     */

    saved->nvariables = cmcf->variables.nelts;
    saved->variables = NULL;

    if (saved->nvariables) {
        saved->variables = ngx_palloc(r->pool, saved->nvariables
                                        * sizeof(ngx_http_variable_value_t));
        if (saved->variables == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(saved->variables, r->variables,
                   saved->nvariables * sizeof(ngx_http_variable_value_t));
    }

    n = 3;

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

    body = ngx_http_tfa_resend_has_body(r);
    dropped = 0;

    for (part = &saved->headers.part; part; part = part->next) {
        header = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (!ngx_http_tfa_resend_keep_header(&header[i], lcf, body)) {
                dropped++;
                continue;
            }

            h = ngx_list_push(&r->headers_in.headers);
            if (h == NULL) {
                ngx_http_tfa_resend_restore_request(r, saved);
                return NGX_ERROR;
            }

            *h = header[i];
#if (nginx_version >= 1023000)
            h->next = NULL;
#endif
        }
    }

    r->headers_in.authorization = NULL;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    r->headers_in.accept_encoding = NULL;
#endif

    if (!body) {
        r->headers_in.content_type = NULL;
    }

    /* the upstream answers in the format asked for: JSON, always */

    if (ngx_http_tfa_resend_push_header(r, "Accept", "accept",
                                        &ngx_http_tfa_resend_json, &h)
        != NGX_OK)
    {
        ngx_http_tfa_resend_restore_request(r, saved);
        return NGX_ERROR;
    }

#if (NGX_HTTP_HEADERS)
    r->headers_in.accept = h;
#endif

    if (credentials) {
        if (ngx_http_tfa_resend_push_header(r, "Authorization",
                                            "authorization", credentials, &h)
            != NGX_OK)
        {
            ngx_http_tfa_resend_restore_request(r, saved);
            return NGX_ERROR;
        }

        r->headers_in.authorization = h;
    }

    /*
     * A header variable read now sees the request being built (so that
     * "proxy_set_header Authorization $http_authorization" sends ours).
     */

    for (i = 0; i < saved->nvariables; i++) {
        if (kind[i] == NGX_HTTP_TFA_RESEND_VAR_HEADER) {
            r->variables[i].valid = 0;
            r->variables[i].not_found = 0;
        }
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
                   "tfa_resend: upstream Authorization %s (value redacted), "
                   "%ui client header(s) not passed on",
                   credentials ? "set from tfa_resend_credentials"
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
    u_char                     *kind;
    ngx_uint_t                  i;
    ngx_http_variable_value_t  *vv;

    r->connection->log->log_level = saved->log_level;

    r->headers_in.headers = saved->headers;
    r->headers_in.authorization = saved->authorization;
    r->headers_in.content_type = saved->content_type;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    r->headers_in.accept_encoding = saved->accept_encoding;
#endif
#if (NGX_HTTP_HEADERS)
    r->headers_in.accept = saved->accept;
#endif
    r->headers_in.user = saved->user;
    r->headers_in.passwd = saved->passwd;
    r->args = saved->args;
    r->valid_unparsed_uri = saved->valid_unparsed_uri;
    r->quoted_uri = saved->quoted_uri;

    /*
     * A header variable gets back what it held; any other variable first
     * read meanwhile (a map of one) is read again when next asked, but
     * $request_id, which must stay the same for the request's whole life.
     */

    if (saved->variables == NULL) {
        return;
    }

    /* made by swap_request, which cannot have got this far without it */
    kind = ngx_http_tfa_resend_variable_kinds(r);
    vv = saved->variables;

    for (i = 0; i < saved->nvariables; i++) {

        if (kind[i] == NGX_HTTP_TFA_RESEND_VAR_HEADER
            || kind[i] == NGX_HTTP_TFA_RESEND_VAR_USER)
        {
            r->variables[i] = vv[i];
            continue;
        }

        if ((vv[i].valid || vv[i].not_found)
            || !(r->variables[i].valid || r->variables[i].not_found)
            || kind[i] == NGX_HTTP_TFA_RESEND_VAR_REQUEST_ID)
        {
            continue;
        }

        r->variables[i].valid = 0;
        r->variables[i].not_found = 0;
    }

    saved->variables = NULL;
}


void
ngx_http_tfa_resend_scrub_response(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || ngx_http_tfa_resend_is_header(&h[i].key,
                                             &ngx_http_tfa_resend_date)
            || ngx_http_tfa_resend_is_header(&h[i].key,
                                             &ngx_http_tfa_resend_server)
            || ((status == NGX_HTTP_TOO_MANY_REQUESTS
                 || status == NGX_HTTP_SERVICE_UNAVAILABLE)
                && ngx_http_tfa_resend_is_header(&h[i].key,
                                          &ngx_http_tfa_resend_retry_after)))
        {
            continue;
        }

        h[i].hash = 0;
    }

    /* those the header filter writes from these pointers, not the list */

    r->headers_out.location = NULL;
    r->headers_out.refresh = NULL;
    r->headers_out.www_authenticate = NULL;
    r->headers_out.content_range = NULL;
    r->headers_out.expires = NULL;
#if (nginx_version >= 1023000)
    r->headers_out.cache_control = NULL;
    r->headers_out.link = NULL;
#else
    r->headers_out.cache_control.nelts = 0;
#endif
}


static ngx_uint_t
ngx_http_tfa_resend_keep_header(ngx_table_elt_t *h,
    ngx_http_tfa_resend_loc_conf_t *lcf, ngx_uint_t body)
{
    ngx_str_t   *name;
    ngx_uint_t   i;

    for (name = ngx_http_tfa_resend_kept_headers; name->len; name++) {
        if (ngx_http_tfa_resend_is_header(&h->key, name)) {
            return 1;
        }
    }

    if (ngx_http_tfa_resend_is_header(&h->key,
                                      &ngx_http_tfa_resend_content_type))
    {
        return body;
    }

    if (lcf->pass_headers == NULL) {
        return 0;
    }

    name = lcf->pass_headers->elts;

    for (i = 0; i < lcf->pass_headers->nelts; i++) {
        if (ngx_http_tfa_resend_is_header(&h->key, &name[i])) {
            return 1;
        }
    }

    return 0;
}


/* a body of at least one byte: the request body is read already */

static ngx_uint_t
ngx_http_tfa_resend_has_body(ngx_http_request_t *r)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return 0;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file ? b->file_last > b->file_pos : b->last > b->pos) {
            return 1;
        }
    }

    return 0;
}


/*
 * The variables whose value comes from the request's headers: $http_*,
 * $cookie_*, $content_type (..._VAR_HEADER), and $remote_user and
 * $remote_passwd (..._VAR_USER).
 */

/*
 * What each indexed variable is to the swap, by its name: worked out once
 * a configuration (the names are the configuration's), not per request.
 */

static u_char *
ngx_http_tfa_resend_variable_kinds(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_http_variable_t        *v;
    ngx_http_core_main_conf_t  *cmcf;

    static u_char       *kinds;
    static ngx_cycle_t  *kinds_cycle;

    if (kinds && kinds_cycle == ngx_cycle) {
        return kinds;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    v = cmcf->variables.elts;

    kinds = ngx_palloc(ngx_cycle->pool, cmcf->variables.nelts + 1);
    if (kinds == NULL) {
        return NULL;
    }

    for (i = 0; i < cmcf->variables.nelts; i++) {
        kinds[i] = (u_char) ngx_http_tfa_resend_variable_kind(&v[i].name);
    }

    kinds_cycle = (ngx_cycle_t *) ngx_cycle;

    return kinds;
}


static ngx_uint_t
ngx_http_tfa_resend_variable_kind(ngx_str_t *name)
{
    static ngx_str_t  prefixes[] = {
        ngx_string("http_"),
        ngx_string("cookie_"),
        ngx_null_string
    };

    static ngx_str_t  users[] = {
        ngx_string("remote_user"),
        ngx_string("remote_passwd"),
        ngx_null_string
    };

    ngx_str_t  *s;

    for (s = prefixes; s->len; s++) {
        if (name->len > s->len
            && ngx_strncmp(name->data, s->data, s->len) == 0)
        {
            return NGX_HTTP_TFA_RESEND_VAR_HEADER;
        }
    }

    if (name->len == sizeof("content_type") - 1
        && ngx_strncmp(name->data, "content_type", name->len) == 0)
    {
        return NGX_HTTP_TFA_RESEND_VAR_HEADER;
    }

    for (s = users; s->len; s++) {
        if (name->len == s->len
            && ngx_strncmp(name->data, s->data, s->len) == 0)
        {
            return NGX_HTTP_TFA_RESEND_VAR_USER;
        }
    }

    if (name->len == sizeof("request_id") - 1
        && ngx_strncmp(name->data, "request_id", name->len) == 0)
    {
        return NGX_HTTP_TFA_RESEND_VAR_REQUEST_ID;
    }

    return NGX_HTTP_TFA_RESEND_VAR_OTHER;
}


static ngx_int_t
ngx_http_tfa_resend_push_header(ngx_http_request_t *r, const char *key,
    const char *lowcase, ngx_str_t *value, ngx_table_elt_t **h)
{
    ngx_table_elt_t  *e;

    e = ngx_list_push(&r->headers_in.headers);
    if (e == NULL) {
        return NGX_ERROR;
    }

    /* as the request parser makes it, for proxy_set_header's lookup */

    e->key.data = (u_char *) key;
    e->key.len = ngx_strlen(key);
    e->lowcase_key = (u_char *) lowcase;
    e->hash = ngx_hash_key(e->lowcase_key, e->key.len);
    e->value = *value;
#if (nginx_version >= 1023000)
    e->next = NULL;
#endif

    *h = e;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_tfa_resend_is_header(ngx_str_t *key, ngx_str_t *name)
{
    return key->len == name->len
           && ngx_strncasecmp(key->data, name->data, name->len) == 0;
}


/* tfa_resend_pass_header NAME ...; */

char *
ngx_http_tfa_resend_pass_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tfa_resend_loc_conf_t  *lcf = conf;

    u_char      *p;
    ngx_str_t   *value, *name;
    ngx_uint_t   i, j;

    if (lcf->pass_headers == NGX_CONF_UNSET_PTR) {
        lcf->pass_headers = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (lcf->pass_headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (*p <= ' ' || *p >= 0x7f || *p == ':') {
                break;
            }
        }

        if (value[i].len == 0 || p != value[i].data + value[i].len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid header name \"%V\" in "
                               "tfa_resend_pass_header", &value[i]);
            return NGX_CONF_ERROR;
        }

        for (j = 0; ngx_http_tfa_resend_refused_headers[j].name.len; j++) {
            if (ngx_http_tfa_resend_is_header(&value[i],
                                  &ngx_http_tfa_resend_refused_headers[j].name))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tfa_resend_pass_header cannot pass \"%V\": %s",
                               &value[i],
                               ngx_http_tfa_resend_refused_headers[j].reason);
                return NGX_CONF_ERROR;
            }
        }

        name = ngx_array_push(lcf->pass_headers);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}
