
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 */


#ifndef _NGX_HTTP_TFA_RESEND_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * What ngx_http_tfa_resend_inject_credentials() changes in a request, kept
 * so that ngx_http_tfa_resend_restore_request() can put the client's own
 * view back as soon as the upstream request has been built.
 */

typedef struct {
    ngx_list_t                  headers;
    ngx_table_elt_t            *authorization;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    ngx_table_elt_t            *accept_encoding;
#endif
    ngx_str_t                   args;
    ngx_uint_t                  log_level;
    unsigned                    valid_unparsed_uri:1;
    unsigned                    quoted_uri:1;
} ngx_http_tfa_resend_saved_t;


/* tfa_resend_credentials basic|app file=PATH | env=NAME | SECRET */
char *ngx_http_tfa_resend_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Makes the request look, to the content handler that builds the upstream
 * request, like one with exactly one Authorization header (the configured
 * value), no Accept-Encoding, no query string and a URI to re-encode from
 * r->uri; and silences debug logging, which would print the header.
 * credentials may be empty: the client's headers are removed all the same.
 */
ngx_int_t ngx_http_tfa_resend_inject_credentials(ngx_http_request_t *r,
    ngx_str_t *credentials, ngx_http_tfa_resend_saved_t *saved);

void ngx_http_tfa_resend_restore_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_saved_t *saved);


#endif /* _NGX_HTTP_TFA_RESEND_CREDENTIALS_H_INCLUDED_ */
