
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * What crosses the gateway in headers: the upstream request carries only
 * what the resend needs (and the configured credentials), the client's own
 * view of its request comes back right after, and the upstream's answer
 * reaches the client with none of its headers but a few.
 */


#ifndef _NGX_HTTP_TFA_RESEND_HEADERS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_HEADERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"


/*
 * What ngx_http_tfa_resend_swap_request() changes in a request, kept so
 * that ngx_http_tfa_resend_restore_request() can put the client's own view
 * back as soon as the upstream request has been built.
 */

typedef struct {
    ngx_list_t                  headers;
    ngx_table_elt_t            *authorization;
    ngx_table_elt_t            *content_type;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    ngx_table_elt_t            *accept_encoding;
#endif
#if (NGX_HTTP_HEADERS)
    ngx_table_elt_t            *accept;
#endif
    ngx_str_t                   user;
    ngx_str_t                   passwd;
    ngx_str_t                   args;
    ngx_http_variable_value_t  *variables;  /* the cache as it was */
    ngx_uint_t                  nvariables;
    ngx_uint_t                  log_level;
    unsigned                    valid_unparsed_uri:1;
    unsigned                    quoted_uri:1;
} ngx_http_tfa_resend_saved_t;


/* tfa_resend_pass_header NAME ... */
char *ngx_http_tfa_resend_pass_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Makes the request look, to the content handler that builds the upstream
 * request, like one with only the headers a resend needs (Host,
 * Content-Length, User-Agent, Content-Type for a body, those of
 * tfa_resend_pass_header), "Accept: application/json", the configured
 * Authorization when credentials is not NULL, no query string and a URI
 * to re-encode from r->uri; the variables read meanwhile see that request.
 * Debug logging, which would print the header, is off until the restore.
 */
ngx_int_t ngx_http_tfa_resend_swap_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_loc_conf_t *lcf, ngx_str_t *credentials,
    ngx_http_tfa_resend_saved_t *saved);

/*
 * The client's request again, its variables included: those read while
 * the upstream request was being built are read afresh.
 */
void ngx_http_tfa_resend_restore_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_saved_t *saved);

/*
 * Drops every response header that came with an answer (the upstream's, an
 * error page's) but Date, Server and, with a 429 or 503, Retry-After; the
 * module's own headers are set after this.
 */
void ngx_http_tfa_resend_scrub_response(ngx_http_request_t *r,
    ngx_uint_t status);


#endif /* _NGX_HTTP_TFA_RESEND_HEADERS_H_INCLUDED_ */
