
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * Helpers for reading the configuration: "key=value" parameters, and
 * files that hold a secret (the upstream credentials, a Redis password).
 */


#ifndef _NGX_HTTP_TFA_RESEND_CONF_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Whether arg is the parameter key ("zone=", with its "="); if so, and
 * value is not NULL, value is what follows the "=".
 */
ngx_uint_t ngx_http_tfa_resend_conf_param(ngx_str_t *arg, const char *key,
    ngx_str_t *value);

/*
 * Reads the file name (a full path, NUL-terminated) into buf, which holds
 * max + 1 bytes: *len is what it holds, at most max bytes.  Messages name
 * the file and the directive ("tfa_resend_credentials: open() ... failed")
 * or what the file is ("credentials file ... is too large"), never what
 * it holds.  A file readable by group or others is a warning.  The caller
 * wipes buf.
 */
ngx_int_t ngx_http_tfa_resend_conf_read_secret(ngx_conf_t *cf,
    ngx_str_t *name, const char *directive, const char *what, u_char *buf,
    size_t max, size_t *len);


#endif /* _NGX_HTTP_TFA_RESEND_CONF_H_INCLUDED_ */
